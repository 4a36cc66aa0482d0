import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend } from '../helpers/backends';
import '../../src/core/nn/registerGradients';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { makeRng } from '../../src/core/noise';
import {
  autoencoderLoss,
  countAutoencoderParams,
  createAutoencoder,
  decodeScaled,
  encodeAutoencoder,
  encodeScaled,
  loadAutoencoder,
  loadLatentModel,
  MNIST_AUTOENCODER_CONFIG,
  validateAutoencoderConfig,
  type AutoencoderConfig,
} from '../../src/core/autoencoder';
import { encodeUNet, loadUNet } from '../../src/core/models';
import { createUNet, type UNetConfig } from '../../src/core/unet';

/** A tiny configuration: 8×8×1 images, 2×2×2 latents. */
const TINY: AutoencoderConfig = { inputShape: [8, 8, 1], channels: [4, 8], latentChannels: 2 };

function images(seed: number, n: number, [h, w, c]: readonly number[]): tf.Tensor4D {
  const rng = makeRng(seed);
  // Smooth-ish images in [−1, 1]: a random blob per example, so there is something to compress.
  const out = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    const cy = rng.uniform() * h;
    const cx = rng.uniform() * w;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
      out[((b * h + y) * w + x) * c + k] = 2 * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 6) - 1;
    }
  }
  return tf.tensor4d(out, [n, h, w, c]);
}

/** An in-memory static server for fetch: path → bytes. */
function memoryFetch(files: Record<string, Uint8Array | string>): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = String(input);
    const body = files[url];
    if (body === undefined) return new Response('not found', { status: 404, statusText: 'Not Found' });
    return new Response(typeof body === 'string' ? body : new Uint8Array(body));
  }) as typeof fetch;
}

async function aeFiles(config: AutoencoderConfig, seed: number, base: string, quantize: 'float16' | null = null, latentScale = 1.7) {
  const ae = createAutoencoder(config, seed);
  const { modelJson, weightData } = await encodeAutoencoder(ae, { name: 'tiny-ae', latentScale }, { quantize });
  ae.dispose();
  return { [`${base}model.json`]: JSON.stringify(modelJson), [`${base}weights.bin`]: new Uint8Array(weightData) };
}

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

describe('createAutoencoder', () => {
  it('maps [N, 28, 28, 1] images to [N, 7, 7, 4] latents and back to images in (−1, 1)', async () => {
    const ae = createAutoencoder(MNIST_AUTOENCODER_CONFIG, 3);
    const x = images(1, 2, [28, 28, 1]);
    const z = ae.encode(x);
    const y = ae.decode(z);
    expect(ae.latentShape).toEqual([7, 7, 4]);
    expect(z.shape).toEqual([2, 7, 7, 4]);
    expect(y.shape).toEqual([2, 28, 28, 1]);
    const v = await read(y);
    expect(v.every((a) => a > -1 && a < 1)).toBe(true);
    tf.dispose([x, z, y]);
    ae.dispose();
  });

  it('has as many parameters as the architecture table adds up to', () => {
    // enc: 3×3 1→32, 3×3 32→64, 3×3 64→64, 1×1 64→4; dec: 3×3 4→64, 3×3 64→64, 3×3 64→32, 3×3 32→32, 3×3 32→1.
    const expected = 9 * 32 + 32 + (9 * 32 * 64 + 64) + (9 * 64 * 64 + 64) + (64 * 4 + 4) + (9 * 4 * 64 + 64) + (9 * 64 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 * 32 + 32) + (9 * 32 + 1);
    const ae = createAutoencoder(MNIST_AUTOENCODER_CONFIG, 0);
    expect(ae.paramCount()).toBe(expected);
    expect(countAutoencoderParams(MNIST_AUTOENCODER_CONFIG)).toBe(expected);
    ae.dispose();
  });

  it('initialises identically for the same seed and differently for another', async () => {
    const [a, b, c] = [createAutoencoder(TINY, 5), createAutoencoder(TINY, 5), createAutoencoder(TINY, 6)];
    const [wa, wb, wc] = [await a.getWeights(), await b.getWeights(), await c.getWeights()];
    expect(Array.from(wa['enc.conv1.w'])).toEqual(Array.from(wb['enc.conv1.w']));
    expect(maxAbsDiff(wa['enc.conv1.w'], wc['enc.conv1.w'])).toBeGreaterThan(0);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('rejects shapes it cannot halve twice, and inputs of the wrong shape', () => {
    expect(() => validateAutoencoderConfig({ inputShape: [6, 8, 1], channels: [4, 4], latentChannels: 2 })).toThrow(/divisible by 4/);
    expect(() => validateAutoencoderConfig({ inputShape: [8, 8, 1], channels: [4, 4], latentChannels: 0 })).toThrow(/latentChannels/);
    const ae = createAutoencoder(TINY, 0);
    const before = tf.memory().numTensors;
    const bad = tf.zeros([1, 8, 8, 2]) as tf.Tensor4D;
    expect(() => ae.encode(bad)).toThrow(/expects \[N, 8,8,1\]/);
    bad.dispose();
    expect(tf.memory().numTensors).toBe(before);
    ae.dispose();
  });
});

describe('autoencoderLoss', () => {
  it('equals mean (x̂ − x)² + λ mean z², computed in float64 from encode and decode', async () => {
    const ae = createAutoencoder(TINY, 2);
    const x = images(4, 3, TINY.inputShape);
    const z = ae.encode(x);
    const y = ae.decode(z);
    const [xv, zv, yv] = [await read(x), await read(z), await read(y)];
    let rec = 0;
    for (let i = 0; i < xv.length; i++) rec += (yv[i] - xv[i]) ** 2;
    let zz = 0;
    for (let i = 0; i < zv.length; i++) zz += zv[i] ** 2;
    const expected = rec / xv.length + (0.3 * zz) / zv.length;
    const loss = autoencoderLoss(ae, x, { zPenalty: 0.3 });
    expect((await loss.data())[0]).toBeCloseTo(expected, 5);
    tf.dispose([x, z, y, loss]);
    ae.dispose();
  });

  it('has the same gradient on wasm (custom conv kernels) as on the cpu backend', async () => {
    const grads = async () => {
      const ae = createAutoencoder(TINY, 7);
      const x = images(8, 2, TINY.inputShape);
      const eps = tf.tensor4d(Float32Array.from({ length: 2 * 2 * 2 * 2 }, (_, i) => Math.sin(i)), [2, 2, 2, 2]);
      const vars = Array.from(ae.params.values());
      const { grads: g } = tf.variableGrads(() => autoencoderLoss(ae, x, { zPenalty: 0.1, latentNoise: 0.2, eps }), vars);
      const out: Record<string, Float64Array> = {};
      for (const [name, v] of ae.params) {
        const gv = Object.entries(g).find(([k]) => k === v.name)![1];
        out[name] = await read(gv);
      }
      tf.dispose(Object.values(g));
      tf.dispose([x, eps]);
      ae.dispose();
      return out;
    };
    const wasm = await grads();
    await useBackend('cpu');
    try {
      const cpu = await grads();
      for (const name of Object.keys(cpu)) {
        const scale = Math.max(1e-3, ...Array.from(cpu[name], Math.abs));
        expect(maxAbsDiff(wasm[name], cpu[name]) / scale, name).toBeLessThan(1e-3);
      }
    } finally {
      await useBackend('wasm');
    }
  });

  it('decreases over a few Adam steps on a tiny configuration on wasm, leaking no tensors', async () => {
    const ae = createAutoencoder(TINY, 1);
    const x = images(2, 8, TINY.inputShape);
    const opt = tf.train.adam(1e-2);
    const vars = Array.from(ae.params.values());
    const step = () => opt.minimize(() => autoencoderLoss(ae, x, { zPenalty: 1e-3 }), true, vars) as tf.Scalar;
    const first = step(); // creates Adam's slots
    const l0 = (await first.data())[0];
    first.dispose();
    const before = tf.memory().numTensors;
    let last = l0;
    for (let i = 0; i < 40; i++) {
      const l = step();
      last = (await l.data())[0];
      l.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(0.5 * l0);
    opt.dispose();
    x.dispose();
    ae.dispose();
  });
});

describe('saving and loading', () => {
  it('round-trips through model.json + weights.bin with identical outputs, and frees everything', async () => {
    const base = 'mem://m/ae/';
    const files = await aeFiles(TINY, 9, base);
    const ref = createAutoencoder(TINY, 9);
    const x = images(3, 2, TINY.inputShape);
    const before = tf.memory().numTensors;
    const { autoencoder, metadata } = await loadAutoencoder(base, memoryFetch(files));
    expect(metadata.latentScale).toBeCloseTo(1.7, 12);
    expect(autoencoder.config).toEqual(TINY);
    const roundTrip = (m: typeof ref) => tf.tidy(() => m.decode(m.encode(x)));
    const [a, b] = [roundTrip(ref), roundTrip(autoencoder)];
    expect(maxAbsDiff(await read(a), await read(b))).toBe(0);
    tf.dispose([a, b]);
    autoencoder.dispose();
    expect(tf.memory().numTensors).toBe(before);
    ref.dispose();
    x.dispose();
  });

  it('fails with an error naming the file when weights.bin is truncated or holds a NaN', async () => {
    const base = 'mem://m/ae/';
    const files = await aeFiles(TINY, 9, base);
    const bin = files[`${base}weights.bin`] as Uint8Array;
    const before = tf.memory().numTensors;
    await expect(loadAutoencoder(base, memoryFetch({ ...files, [`${base}weights.bin`]: bin.slice(0, bin.length - 8) }))).rejects.toThrow(/weights\.bin.*truncated/);
    const nan = bin.slice();
    new DataView(nan.buffer).setFloat32(16, NaN, true);
    await expect(loadAutoencoder(base, memoryFetch({ ...files, [`${base}weights.bin`]: nan }))).rejects.toThrow(/weights\.bin.*NaN/);
    const json = JSON.parse(files[`${base}model.json`] as string);
    delete json.userDefinedMetadata.latentScale;
    await expect(loadAutoencoder(base, memoryFetch({ ...files, [`${base}model.json`]: JSON.stringify(json) }))).rejects.toThrow(/model\.json.*latentScale/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stores float16 weights whose outputs stay within float16 precision of the originals', async () => {
    const base = 'mem://h/ae/';
    const files = await aeFiles(TINY, 4, base, 'float16');
    const ref = createAutoencoder(TINY, 4);
    const { autoencoder } = await loadAutoencoder(base, memoryFetch(files));
    const x = images(5, 2, TINY.inputShape);
    const [a, b] = [ref.encode(x), autoencoder.encode(x)];
    const diff = maxAbsDiff(await read(a), await read(b));
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(5e-3);
    tf.dispose([a, b, x]);
    ref.dispose();
    autoencoder.dispose();
  });
});

describe('loadLatentModel', () => {
  const unetConfig: UNetConfig = { inputShape: [2, 2, 2], channels: [8], numResBlocks: 1, attention: true, tembDim: 8, groups: 4, numClasses: 10 };

  async function latentFiles(denoiserConfig: UNetConfig) {
    const files: Record<string, Uint8Array | string> = await aeFiles(TINY, 1, 'mem://l/autoencoder/', 'float16', 2.5);
    const unet = createUNet(denoiserConfig, 3);
    const { modelJson, weightData } = await encodeUNet(unet, { name: 'tiny-latent', schedule: { kind: 'cosine', T: 100 } });
    unet.dispose();
    files['mem://l/denoiser/model.json'] = JSON.stringify(modelJson);
    files['mem://l/denoiser/weights.bin'] = new Uint8Array(weightData);
    return files;
  }

  it('loads the autoencoder and the denoiser (which loadUNet reads too), and decodes scaled latents', async () => {
    const files = await latentFiles(unetConfig);
    const fetchImpl = memoryFetch(files);
    const before = tf.memory().numTensors;
    const m = await loadLatentModel('mem://l', fetchImpl);
    expect(m.latentScale).toBe(2.5);
    expect(m.schedule.T).toBe(100);
    expect(m.unet.config).toEqual(unetConfig);
    const x = images(6, 2, TINY.inputShape);
    const zs = encodeScaled(m, x);
    const z = m.autoencoder.encode(x);
    expect(maxAbsDiff(await read(zs), Array.from(await read(z), (v) => v * 2.5))).toBeLessThan(1e-5);
    const y1 = decodeScaled(m, zs);
    const y2 = m.autoencoder.decode(z);
    expect(maxAbsDiff(await read(y1), await read(y2))).toBeLessThan(1e-5);
    tf.dispose([x, zs, z, y1, y2]);
    m.dispose();
    const alone = await loadUNet('mem://l/denoiser/', fetchImpl);
    alone.unet.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a denoiser whose input shape is not the latent shape, freeing what it built', async () => {
    const files = await latentFiles({ ...unetConfig, inputShape: [2, 2, 3] });
    const before = tf.memory().numTensors;
    await expect(loadLatentModel('mem://l/', memoryFetch(files))).rejects.toThrow(/latents are 2×2×2, the denoiser expects 2×2×3/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
