import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClassifier } from '../../src/core/classifier';
import {
  affineQuantizationRange,
  assignWeights,
  countParams,
  decodeWeights,
  encodeWeights,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  loadWeightsFromUrl,
  weightsFromTensors,
  type NamedWeights,
  type WeightsManifestEntry,
} from '../../src/core/io';
import { useBackend } from '../helpers/backends';

/** Seeded values in [−scale, scale) (mulberry32). */
function values(seed: number, n: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

const sample = (): NamedWeights => ({
  'conv/kernel': { shape: [3, 3, 1, 2], data: values(1, 18, 0.5) },
  'conv/bias': { shape: [2], data: Float32Array.of(0.25, -3) },
  'dense/kernel': { shape: [5, 3], data: values(2, 15, 4) },
});

const specsOf = (json: { weightsManifest: { weights: WeightsManifestEntry[] }[] }) => json.weightsManifest.flatMap((g) => g.weights);

beforeAll(() => useBackend('cpu'));

describe('encodeWeights / decodeWeights', () => {
  it('writes a TensorFlow.js model.json: format, weightsManifest [{paths, weights: [{name, shape, dtype}]}] and metadata', () => {
    const { modelJson, weightData } = encodeWeights(sample(), { metadata: { model: 'toy', config: { a: 1 } } });
    expect(modelJson.format).toBe('diffusion-lab-weights');
    expect(modelJson.weightsManifest).toEqual([
      {
        paths: ['weights.bin'],
        weights: [
          { name: 'conv/kernel', shape: [3, 3, 1, 2], dtype: 'float32' },
          { name: 'conv/bias', shape: [2], dtype: 'float32' },
          { name: 'dense/kernel', shape: [5, 3], dtype: 'float32' },
        ],
      },
    ]);
    expect(modelJson.userDefinedMetadata).toEqual({ model: 'toy', config: { a: 1 } });
    expect(weightData.byteLength).toBe(4 * (18 + 2 + 15));
    // The .bin is the float32 values concatenated in manifest order.
    expect(new Float32Array(weightData, 18 * 4, 2)[1]).toBe(-3);
  });

  it('round-trips float32 weights bit for bit, through JSON text too', () => {
    const w = sample();
    const { modelJson, weightData } = encodeWeights(w, { metadata: { step: 7 } });
    const back = decodeWeights(JSON.parse(JSON.stringify(modelJson)), weightData.slice(0));
    expect(Object.keys(back.weights)).toEqual(Object.keys(w));
    for (const [name, v] of Object.entries(w)) {
      expect(back.weights[name].shape).toEqual(v.shape);
      expect(Array.from(back.weights[name].data)).toEqual(Array.from(v.data));
    }
    expect(back.metadata).toEqual({ step: 7 });
    expect(countParams(back.weights)).toBe(35);
  });

  it('is read identically by tf.io.decodeWeights, quantised or not (the files are standard)', async () => {
    for (const quantize of [null, 'float16', 'uint8', 'uint16'] as const) {
      const { modelJson, weightData } = encodeWeights(sample(), { quantize });
      const ours = decodeWeights(modelJson, weightData).weights;
      const theirs = tf.io.decodeWeights(weightData, specsOf(modelJson) as tf.io.WeightsManifestEntry[]);
      for (const [name, t] of Object.entries(theirs)) {
        expect(Array.from(await t.data()), `${quantize} ${name}`).toEqual(Array.from(ours[name].data));
        expect(t.shape).toEqual(ours[name].shape);
        t.dispose();
      }
    }
  });

  it('encodes float16 with round-to-nearest-even, saturating to Infinity, as IEEE 754 binary16', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [65520, 0x7c00],
      [2 ** -24, 0x0001], [2 ** -14, 0x0400], [0.1, 0x2e66], [1 / 3, 0x3555], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
      [Infinity, 0x7c00], [2 ** -26, 0x0000],
    ];
    for (const [v, bits] of cases) expect(float32ToFloat16Bits(v), `${v}`).toBe(bits);
    expect(float16BitsToFloat32(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
    const x = values(3, 2000, 8);
    for (const v of x) {
      if (Math.abs(v) < 2 ** -14) continue;
      expect(Math.abs(float16BitsToFloat32(float32ToFloat16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11);
    }
  });

  it('quantises uint8 with max error scale/2, an exact zero, and leaves small weights float32 if asked', () => {
    const r = affineQuantizationRange(-1, 3, 'uint8');
    expect(r.scale).toBeCloseTo(4 / 255, 15);
    expect(Math.abs(-r.min / r.scale - Math.round(-r.min / r.scale))).toBeLessThan(1e-9); // 0 is a grid point
    const w: NamedWeights = { k: { shape: [4, 100], data: values(5, 400, 2).map((v, i) => (i % 7 === 0 ? 0 : v)) }, b: { shape: [3], data: Float32Array.of(0.1, 0.2, 0.3) } };
    const { modelJson, weightData } = encodeWeights(w, { quantize: 'uint8', minQuantizeSize: 10 });
    const specs = specsOf(modelJson);
    expect(specs[0].quantization?.dtype).toBe('uint8');
    expect(specs[1].quantization).toBeUndefined();
    expect(weightData.byteLength).toBe(400 + 12);
    const back = decodeWeights(modelJson, weightData).weights;
    const scale = specs[0].quantization!.scale!;
    for (let i = 0; i < 400; i++) {
      expect(Math.abs(back.k.data[i] - w.k.data[i])).toBeLessThanOrEqual(scale / 2 + 1e-6);
      if (w.k.data[i] === 0) expect(Math.abs(back.k.data[i])).toBeLessThan(1e-6);
    }
    expect(Array.from(back.b.data)).toEqual(Array.from(w.b.data));
  });
});

describe('corrupt files fail with an Error naming the file', () => {
  const { modelJson, weightData } = encodeWeights(sample());

  it('a truncated or over-long .bin', () => {
    expect(() => decodeWeights(modelJson, weightData.slice(0, 100), 'models/toy/model.json')).toThrow(
      /^weights\.bin \(listed in models\/toy\/model\.json\): truncated: 100 bytes, the manifest needs 140/,
    );
    const longer = new Uint8Array(144);
    longer.set(new Uint8Array(weightData));
    expect(() => decodeWeights(modelJson, longer.buffer, 'm.json')).toThrow(/weights\.bin \(listed in m\.json\): too long/);
  });

  it('NaN or Infinity among the values', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const copy = weightData.slice(0);
      new Float32Array(copy)[20] = bad;
      expect(() => decodeWeights(modelJson, copy, 'm.json')).toThrow(new RegExp(`m\\.json\\): weight "dense/kernel" contains ${bad} at index 0`));
    }
  });

  it('a manifest that is not a weights manifest, has a bad shape, dtype or quantization', () => {
    expect(() => decodeWeights({ format: 'x' }, weightData, 'a.json')).toThrow(/^a\.json: no weightsManifest/);
    expect(() => decodeWeights('hello', weightData, 'a.json')).toThrow(/^a\.json: not a JSON object/);
    const tweak = (f: (e: Record<string, unknown>) => void) => {
      const j = JSON.parse(JSON.stringify(modelJson));
      f(j.weightsManifest[0].weights[0]);
      return j;
    };
    expect(() => decodeWeights(tweak((e) => (e.shape = [3, -1])), weightData, 'a.json')).toThrow(/a\.json: weight "conv\/kernel" has a bad shape/);
    expect(() => decodeWeights(tweak((e) => (e.dtype = 'int8')), weightData, 'a.json')).toThrow(/dtype "int8"/);
    expect(() => decodeWeights(tweak((e) => (e.quantization = { dtype: 'uint8' })), weightData, 'a.json')).toThrow(/without a finite min and scale/);
    expect(() => decodeWeights(tweak((e) => (e.name = 'conv/bias')), weightData, 'a.json')).toThrow(/listed twice/);
  });

  it('a missing, unexpected or mis-shaped weight when assigning to a model', () => {
    const vars = { a: tf.variable(tf.zeros([2])), b: tf.variable(tf.zeros([2, 2])) };
    const ok: NamedWeights = { a: { shape: [2], data: Float32Array.of(1, 2) }, b: { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) } };
    expect(() => assignWeights(vars, { a: ok.a }, 'm.json')).toThrow(/^m\.json: missing weight\(s\) "b"/);
    expect(() => assignWeights(vars, { ...ok, c: ok.a }, 'm.json')).toThrow(/^m\.json: unexpected weight\(s\) "c"/);
    expect(() => assignWeights(vars, { ...ok, b: { shape: [4], data: ok.b.data } }, 'm.json')).toThrow(/weight "b" has shape \[4\], the model expects \[2,2\]/);
    Object.values(vars).forEach((v) => v.dispose());
  });
});

describe('save → load of a real model', () => {
  it('gives identical outputs (float32) and close ones (float16), without leaking tensors', async () => {
    const x = tf.tensor4d(values(9, 2 * 784), [2, 28, 28, 1]);
    const source = createClassifier(1, { channels: [4, 4], features: 8 });
    const target = createClassifier(2, { channels: [4, 4], features: 8 });
    const before = tf.memory().numTensors;
    const weights = await weightsFromTensors(source.params);
    const ref = source.logits(x);
    const refData = await ref.data();

    const f32 = encodeWeights(weights);
    assignWeights(target.params, decodeWeights(f32.modelJson, f32.weightData).weights, 'f32');
    const out = target.logits(x);
    expect(Array.from(await out.data())).toEqual(Array.from(refData));

    const f16 = encodeWeights(weights, { quantize: 'float16' });
    expect(f16.weightData.byteLength).toBe(f32.weightData.byteLength / 2);
    assignWeights(target.params, decodeWeights(f16.modelJson, f16.weightData).weights, 'f16');
    const out16 = target.logits(x);
    const d16 = await out16.data();
    const maxRef = Math.max(...Array.from(refData, Math.abs));
    for (let i = 0; i < d16.length; i++) expect(Math.abs(d16[i] - refData[i])).toBeLessThan(1e-2 * maxRef);

    [ref, out, out16].forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    source.dispose();
    target.dispose();
    x.dispose();
  });
});

describe('loadWeightsFromUrl (Node fetch against an in-memory server)', () => {
  const files = new Map<string, { body: string | Uint8Array; type: string }>();
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const { modelJson, weightData } = encodeWeights(sample(), { metadata: { hello: 'world' }, quantize: 'float16', minQuantizeSize: 10 });
    files.set('/good/model.json', { body: JSON.stringify(modelJson), type: 'application/json' });
    files.set('/good/weights.bin', { body: new Uint8Array(weightData), type: 'application/octet-stream' });
    files.set('/truncated/model.json', { body: JSON.stringify(modelJson), type: 'application/json' });
    files.set('/truncated/weights.bin', { body: new Uint8Array(weightData).subarray(0, 17), type: 'application/octet-stream' });
    files.set('/badjson/model.json', { body: '{"weightsManifest": [', type: 'application/json' });
    files.set('/nobin/model.json', { body: JSON.stringify(modelJson), type: 'application/json' });
    server = createServer((req, res) => {
      const f = files.get((req.url ?? '').split('?')[0]);
      if (!f) return void res.writeHead(404).end('not found');
      res.writeHead(200, { 'Content-Type': f.type }).end(f.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('loads a folder URL or a model.json URL and returns the same weights and metadata', async () => {
    const a = await loadWeightsFromUrl(`${base}/good/`);
    const b = await loadWeightsFromUrl(`${base}/good/model.json`);
    expect(a.metadata).toEqual({ hello: 'world' });
    expect(Array.from(a.weights['conv/bias'].data)).toEqual([0.25, -3]);
    expect(Array.from(b.weights['conv/kernel'].data)).toEqual(Array.from(a.weights['conv/kernel'].data));
    const k = sample()['conv/kernel'].data;
    for (let i = 0; i < k.length; i++) expect(a.weights['conv/kernel'].data[i]).toBeCloseTo(k[i], 3);
  });

  it('names the URL when the bin is truncated, the JSON is bad, or a file is missing', async () => {
    await expect(loadWeightsFromUrl(`${base}/truncated`)).rejects.toThrow(/weights\.bin \(listed in http:.*\/truncated\/model\.json\): truncated: 17 bytes/);
    await expect(loadWeightsFromUrl(`${base}/badjson/`)).rejects.toThrow(/\/badjson\/model\.json: invalid JSON/);
    await expect(loadWeightsFromUrl(`${base}/nobin/`)).rejects.toThrow(/\/nobin\/weights\.bin: HTTP 404/);
    await expect(loadWeightsFromUrl(`${base}/absent/`)).rejects.toThrow(/\/absent\/model\.json: HTTP 404/);
  });
});
