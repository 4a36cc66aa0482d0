/**
 * ControlNet (src/core/controlnet.ts) and the U-Net's control inputs (UNet.controlled, createUNetEncoder): the zero
 * convolutions make a fresh net add exactly nothing, scale 0 is the base bit for bit, residuals enter linearly in
 * the scale, the hint is tiled for a guidance-doubled batch, the copy starts as the base's encoder, training leaves
 * the frozen base untouched, a gradient against finite differences, and the loaders' refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend } from '../helpers/backends';
import '../../src/core/nn/registerGradients';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { FusedAdam } from '../../src/core/adam';
import {
  checkBase,
  controlledModel,
  controlNetFromWeights,
  copiedNames,
  createControlNet,
  hintTensor,
  initFromBase,
  loadControlNet,
  parseControlNetMetadata,
  validateControlNetConfig,
  type ControlNet,
  type ControlNetConfig,
} from '../../src/core/controlnet';
import { classifierFreeGuidance } from '../../src/core/guidance';
import { encodeWeights, type NamedWeights } from '../../src/core/io';
import { makeRng } from '../../src/core/noise';
import { makeSchedule } from '../../src/core/schedules';
import { drawTraining, epsLoss } from '../../src/core/train';
import { createUNet, type ControlResiduals, type UNet, type UNetConfig } from '../../src/core/unet';

/** Two levels (4×4 then 2×2), middle attention, classes: two skips at different resolutions. */
const BASE2: UNetConfig = { inputShape: [4, 4, 2], channels: [8, 8], numResBlocks: 1, attention: true, tembDim: 8, groups: 4, numClasses: 3 };
/** One level, two res blocks (two skips at one resolution), no attention. */
const BASE1: UNetConfig = { inputShape: [4, 4, 2], channels: [8], numResBlocks: 2, attention: false, tembDim: 8, groups: 4, numClasses: 3 };
const CN2: ControlNetConfig = { base: BASE2, hintShape: [8, 8, 1], hintChannels: [4, 8] };
const CN1: ControlNetConfig = { base: BASE1, hintShape: [16, 16, 1], hintChannels: [4, 4, 8] };
const CASES = [
  ['two levels, 8×8 hint', CN2],
  ['one level, 16×16 hint', CN1],
] as const;

function randomArray(seed: number, n: number, scale = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

function input(c: UNetConfig, n: number, seed = 1): tf.Tensor4D {
  const [h, w, ch] = c.inputShape;
  return tf.tensor4d(randomArray(seed, n * h * w * ch), [n, h, w, ch]);
}

/** n random 0/1 hints of the config's shape. */
function hints(c: ControlNetConfig, n: number, seed = 3): tf.Tensor4D {
  const [h, w, ch] = c.hintShape;
  const rng = makeRng(seed);
  return tf.tensor4d(Float32Array.from({ length: n * h * w * ch }, () => (rng.uniform() < 0.2 ? 1 : 0)), [n, h, w, ch]);
}

/** Overwrite the named parameters (default: the zero convolutions) with random values. */
function randomise(net: ControlNet, seed: number, which: (name: string) => boolean = (n) => n.startsWith('zero.') || n.startsWith('hint.zero'), scale = 0.3): void {
  let k = 0;
  for (const [name, v] of net.params) if (which(name)) v.assign(tf.tensor(randomArray(seed + k++, v.size, scale), v.shape));
}

/** Bit-for-bit equality of two float32 tensors (reports the first difference). */
async function expectBitIdentical(a: tf.Tensor, b: tf.Tensor, what = ''): Promise<void> {
  expect(a.shape, what).toEqual(b.shape);
  const x = new Uint32Array((await a.data<'float32'>()).slice().buffer);
  const y = new Uint32Array((await b.data<'float32'>()).slice().buffer);
  const i = x.findIndex((v, k) => v !== y[k]);
  expect(i, `${what}: first difference at ${i}`).toBe(-1);
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function setup(c: ControlNetConfig, seed = 1) {
  const base = createUNet(c.base, seed);
  const net = createControlNet(c, seed + 10);
  initFromBase(net, base);
  return { base, net };
}

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});
afterAll(async () => {
  await useBackend('cpu');
});

describe.each(CASES)('ControlNet (%s)', (_, C) => {
  it('starts with exactly zero residuals and hint features, so the controlled model is the base bit for bit', async () => {
    const { base, net } = setup(C);
    const x = input(C.base, 3);
    const t = tf.tensor1d([1, 400, 999], 'int32');
    const y = tf.tensor1d([0, 2, 3], 'int32');
    const h = hints(C, 3);
    const r = net.residuals(x, t, y, undefined, h);
    expect(r.skips.length).toBe(C.base.channels.length * C.base.numResBlocks);
    for (const s of [...r.skips, r.mid]) expect((await s.data()).every((v) => v === 0)).toBe(true);
    const f = net.hintFeatures(h);
    expect(f.shape).toEqual([3, C.base.inputShape[0], C.base.inputShape[1], C.base.channels[0]]);
    expect((await f.data()).every((v) => v === 0)).toBe(true);
    const plain = base.model(x, t, y);
    for (const scale of [1, 2.5, -1]) {
      const out = controlledModel(base, net, h, scale)(x, t, y);
      await expectBitIdentical(out, plain, `scale ${scale}`);
      out.dispose();
    }
    // The check can fail: once the zero convolutions are not zero, scale 1 moves the output.
    randomise(net, 5);
    const moved = controlledModel(base, net, h, 1)(x, t, y);
    expect(maxAbsDiff(await read(moved), await read(plain))).toBeGreaterThan(1e-3);
    tf.dispose([x, t, y, h, f, plain, moved, ...r.skips, r.mid]);
    base.dispose();
    net.dispose();
  });

  it('at scale 0 is the base model bit for bit even with every ControlNet weight random, and refuses a non-finite scale', async () => {
    const { base, net } = setup(C);
    randomise(net, 7, () => true);
    const x = input(C.base, 2, 4);
    const t = tf.tensor1d([50, 700], 'int32');
    const y = tf.tensor1d([1, 3], 'int32');
    const h = hints(C, 2);
    const plain = base.model(x, t, y);
    const out = controlledModel(base, net, h, 0)(x, t, y);
    await expectBitIdentical(out, plain, 'scale 0');
    // Scale 0 does not even run the ControlNet: a NaN in its weights cannot reach the output.
    tf.tidy(() => net.params.get('zero.mid.w')!.assign(tf.fill(net.params.get('zero.mid.w')!.shape, NaN)));
    const still = controlledModel(base, net, h, 0)(x, t, y);
    await expectBitIdentical(still, plain, 'scale 0 with a NaN weight');
    const nanOut = controlledModel(base, net, h, 1)(x, t, y);
    expect((await nanOut.data()).some(Number.isNaN)).toBe(true);
    tf.dispose([still, nanOut]);
    for (const bad of [NaN, Infinity, -Infinity]) expect(() => controlledModel(base, net, h, bad)).toThrow(RangeError);
    tf.dispose([x, t, y, h, plain, out]);
    base.dispose();
    net.dispose();
  });

  it('UNet.controlled: scale 0 or zero residuals give the base; λ·r at scale 1 equals r at scale λ; every residual is used', async () => {
    const { base, net } = setup(C);
    randomise(net, 11, () => true);
    const x = input(C.base, 2, 8);
    const t = tf.tensor1d([10, 600], 'int32');
    const y = tf.tensor1d([2, 0], 'int32');
    const h = hints(C, 2, 9);
    const r = net.residuals(x, t, y, undefined, h);
    const plain = base.model(x, t, y);
    const zero: ControlResiduals = { skips: r.skips.map((s) => tf.zerosLike(s)), mid: tf.zerosLike(r.mid) };
    const keep: tf.Tensor[] = [x, t, y, h, plain, ...r.skips, r.mid, ...zero.skips, zero.mid];
    const check = async (a: tf.Tensor4D, b: tf.Tensor4D, what: string) => {
      await expectBitIdentical(a, b, what);
      tf.dispose([a, b]);
    };
    await check(base.controlled(x, t, y, undefined, r, 0), base.model(x, t, y), 'scale 0');
    await check(base.controlled(x, t, y, undefined, zero, 1.7), base.model(x, t, y), 'zero residuals');
    for (const lambda of [0.5, 2, -1.25]) {
      const pre: ControlResiduals = { skips: r.skips.map((s) => tf.mul(s, lambda)), mid: tf.mul(r.mid, lambda) };
      keep.push(...pre.skips, pre.mid);
      await check(base.controlled(x, t, y, undefined, r, lambda), base.controlled(x, t, y, undefined, pre, 1), `λ = ${lambda}`);
    }
    // Each residual alone (the others zero) changes the output: none is dropped.
    const only = (k: number): ControlResiduals => ({ skips: r.skips.map((s, j) => (j === k ? s : zero.skips[j])), mid: k === -1 ? r.mid : zero.mid });
    for (let k = -1; k < r.skips.length; k++) {
      const out = base.controlled(x, t, y, undefined, only(k), 1);
      expect(maxAbsDiff(await read(out), await read(plain)), `residual ${k}`).toBeGreaterThan(1e-4);
      out.dispose();
    }
    // A residual list of the wrong length is refused.
    expect(() => base.controlled(x, t, y, undefined, { skips: r.skips.slice(1), mid: r.mid }, 1)).toThrow(/skip residuals/);
    tf.dispose(keep);
    base.dispose();
    net.dispose();
  });

  it('tiles the hint over a guidance-doubled batch: CFG equals the two branches run separately with the untiled hint', async () => {
    const { base, net } = setup(C);
    randomise(net, 13, () => true, 0.2);
    const x = input(C.base, 2, 12);
    const h = hints(C, 2, 14); // two different hints: the tiling order matters
    const model = controlledModel(base, net, h, 1.3);
    const w = 2;
    const guided = classifierFreeGuidance(model, { classes: [0, 2], w, nullClass: 3 })(x, 321);
    const t = tf.tensor1d([321, 321], 'int32');
    const yc = tf.tensor1d([0, 2], 'int32');
    const yu = tf.tensor1d([3, 3], 'int32');
    const ec = await read(model(x, t, yc));
    const eu = await read(model(x, t, yu));
    const ref = ec.map((v, i) => (1 + w) * v - w * eu[i]);
    expect(maxAbsDiff(await read(guided), ref)).toBeLessThan(1e-5);
    // …and the hints are not interchangeable (swapping them changes the answer), so the test sees the order.
    const hs = tf.concat([tf.slice(h, [1], [1]), tf.slice(h, [0], [1])]) as tf.Tensor4D;
    const swapped = classifierFreeGuidance(controlledModel(base, net, hs, 1.3), { classes: [0, 2], w, nullClass: 3 })(x, 321);
    expect(maxAbsDiff(await read(swapped), ref)).toBeGreaterThan(1e-4);
    // One hint shared by the batch; a batch that is no multiple of the hints is refused.
    const one = tf.slice(h, [0], [1]) as tf.Tensor4D;
    const sharedOut = controlledModel(base, net, one, 1)(x, t, yc);
    const tiled = tf.concat([one, one]) as tf.Tensor4D;
    const explicitOut = controlledModel(base, net, tiled, 1)(x, t, yc);
    await expectBitIdentical(sharedOut, explicitOut, 'one hint for the batch');
    const x3 = input(C.base, 3, 15);
    expect(() => controlledModel(base, net, h, 1)(x3, tf.tensor1d([1, 1, 1], 'int32'), tf.tensor1d([0, 0, 0], 'int32'))).toThrow(/cannot share/);
    // The net itself wants one hint per example.
    expect(() => net.residuals(x3, tf.tensor1d([1, 1, 1], 'int32'), undefined, undefined, h)).toThrow(/hints/);
    tf.dispose([x, h, guided, t, yc, yu, hs, swapped, one, sharedOut, tiled, explicitOut, x3]);
    base.dispose();
    net.dispose();
  });

  it('initFromBase copies every base parameter of the copy; copiedNames excludes hint.* and zero.*; the count is the sum of shapes', async () => {
    const base = createUNet(C.base, 21);
    const net = createControlNet(C, 22);
    const names = [...net.params.keys()];
    const copied = copiedNames(net);
    expect(copied.length).toBeGreaterThan(5);
    expect(copied.some((n) => n.startsWith('hint.') || n.startsWith('zero.'))).toBe(false);
    const rest = names.filter((n) => !copied.includes(n)).sort();
    const levels = C.base.channels.length * C.base.numResBlocks;
    const zeros = ['hint.zero.b', 'hint.zero.w', 'zero.mid.b', 'zero.mid.w', ...Array.from({ length: levels }, (_, k) => [`zero.skip${k}.b`, `zero.skip${k}.w`]).flat()];
    const hintConvs = C.hintChannels.flatMap((_, k) => [`hint.conv${k}.b`, `hint.conv${k}.w`]);
    // Parameter names as the module documents them (conv weights .w, biases .b).
    expect(rest).toEqual([...hintConvs, ...zeros].sort());
    // Every copied name is a base name; what the copy lacks is the up path and the output.
    const baseNames = [...base.params.keys()];
    for (const n of copied) expect(baseNames, n).toContain(n);
    for (const n of baseNames.filter((b) => !copied.includes(b))) expect(n, n).toMatch(/^(up\d|out\.)/);
    // Before: different seeds, different values; after: the base's bits.
    const differs = await Promise.all(copied.map(async (n) => !sameBits(await net.params.get(n)!.data<'float32'>(), await base.params.get(n)!.data<'float32'>())));
    expect(differs.filter(Boolean).length).toBeGreaterThan(0);
    const hintBefore = await net.params.get('hint.conv0.w')!.data<'float32'>();
    initFromBase(net, base);
    for (const n of copied) expect(sameBits(await net.params.get(n)!.data<'float32'>(), await base.params.get(n)!.data<'float32'>()), n).toBe(true);
    expect(sameBits(await net.params.get('hint.conv0.w')!.data<'float32'>(), hintBefore)).toBe(true);
    // Zero convolutions are zero, with the documented shapes.
    expect(net.params.get('hint.zero.w')!.shape).toEqual([3, 3, C.hintChannels.at(-1)!, C.base.channels[0]]);
    expect(net.params.get('hint.conv0.w')!.shape).toEqual([3, 3, C.hintShape[2], C.hintChannels[0]]);
    const last = C.base.channels.at(-1)!;
    expect(net.params.get('zero.mid.w')!.shape).toEqual([1, 1, last, last]);
    for (const n of zeros) expect((await net.params.get(n)!.data()).every((v) => v === 0), n).toBe(true);
    let total = 0;
    for (const v of net.params.values()) total += v.shape.reduce((a, b) => a * b, 1);
    expect(net.paramCount()).toBe(total);
    // A base of another configuration is refused.
    const other = createUNet({ ...C.base, tembDim: 16 }, 1);
    expect(() => initFromBase(net, other)).toThrow(/initFromBase/);
    other.dispose();
    base.dispose();
    net.dispose();
  });

  it('trains only the ControlNet: FusedAdam over its params leaves the base bit-identical, moves the zero convs, and leaks nothing', async () => {
    const { base, net } = setup(C, 3);
    const schedule = makeSchedule('cosine', 1000);
    const baseBefore = await base.getWeights();
    const netBefore = await net.getWeights();
    const opt = new FusedAdam([...net.params.values()], { lr: 1e-2 });
    const n = 4;
    const shape = [n, ...C.base.inputShape] as [number, number, number, number];
    const x0Data = randomArray(30, n * C.base.inputShape.reduce((a, b) => a * b, 1), 0.8);
    const hintData = new Uint8Array(n * C.hintShape[0] * C.hintShape[1]);
    const hr = makeRng(31);
    for (let i = 0; i < hintData.length; i++) hintData[i] = hr.uniform() < 0.15 ? 1 : 0;
    const step = (k: number) => {
      const draws = drawTraining(makeRng(100 + k), shape, schedule.T, [0, 1, 2, 1], C.base.numClasses, 0.25);
      return opt.minimize(() => {
        const hint = hintTensor(hintData, n, C.hintShape[0], C.hintShape[1]);
        return epsLoss({ model: controlledModel(base, net, hint, 1) }, schedule, tf.tensor4d(x0Data, shape), draws, { minSnrGamma: 1 });
      });
    };
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let k = 0; k < 4; k++) {
      const l = step(k);
      losses.push((await l.data())[0]);
      l.dispose();
      expect(tf.memory().numTensors, `after step ${k}`).toBe(before);
      if (k === 0) {
        // After one step only the zero convolutions of the skips and middle can have moved (everything else had zero gradient).
        const w = await net.getWeights();
        for (const name of Object.keys(w)) {
          const moved = !sameBits(w[name], netBefore[name]);
          if (/^zero\.(skip\d+|mid)\.[wb]$/.test(name)) expect(moved, name).toBe(true);
          else expect(moved, name).toBe(false);
        }
      }
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    const baseAfter = await base.getWeights();
    for (const name of Object.keys(baseBefore)) expect(sameBits(baseAfter[name], baseBefore[name]), name).toBe(true);
    const netAfter = await net.getWeights();
    for (const name of Object.keys(netAfter).filter((m) => m.startsWith('zero.') || m.startsWith('hint.'))) {
      expect(sameBits(netAfter[name], netBefore[name]), name).toBe(false);
    }
    expect(copiedNames(net).some((m) => !sameBits(netAfter[m], netBefore[m]))).toBe(true);
    opt.dispose();
    base.dispose();
    net.dispose();
  });
});

describe('gradient through the ControlNet', () => {
  it('∂L/∂w for a zero-conv, hint-encoder and copied weight matches a central finite difference', async () => {
    await useBackend('cpu');
    try {
      const C = CN2;
      const { base, net } = setup(C, 4);
      randomise(net, 40, () => true, 0.3);
      const x = input(C.base, 2, 41);
      const t = tf.tensor1d([30, 500], 'int32');
      const y = tf.tensor1d([1, 3], 'int32');
      const h = hints(C, 2, 42);
      const proj = tf.tensor4d(randomArray(43, x.size), x.shape as [number, number, number, number]);
      const model = controlledModel(base, net, h, 0.8);
      const loss = () => tf.tidy(() => tf.sum(tf.mul(model(x, t, y), proj)) as tf.Scalar);
      for (const [name, index] of [
        ['zero.mid.w', 5],
        ['zero.skip0.w', 17],
        ['zero.skip1.b', 2],
        ['hint.zero.w', 40],
        ['hint.conv0.w', 3],
        ['in.conv.w', 9],
      ] as const) {
        const v = net.params.get(name)!;
        const { grads, value } = tf.variableGrads(loss, [v]);
        const g = (await grads[v.name].data())[index];
        tf.dispose([value, ...Object.values(grads)]);
        const orig = Float32Array.from(await v.data());
        const at = async (delta: number) => {
          const w = orig.slice();
          w[index] += delta;
          v.assign(tf.tensor(w, v.shape));
          const l = loss();
          const out = (await l.data())[0];
          l.dispose();
          return out;
        };
        const eps = 1e-2;
        const fd = ((await at(eps)) - (await at(-eps))) / (2 * eps);
        v.assign(tf.tensor(orig, v.shape));
        expect(Math.abs(g), name).toBeGreaterThan(1e-4);
        expect(Math.abs(g - fd), `${name}[${index}]: grad ${g}, fd ${fd}`).toBeLessThan(1e-3 + 5e-3 * Math.abs(fd));
      }
      tf.dispose([x, t, y, h, proj]);
      base.dispose();
      net.dispose();
    } finally {
      await useBackend('wasm');
    }
  });
});

describe('configuration, metadata and loading', () => {
  it('validateControlNetConfig refuses hints that do not reach the base grid and empty or bad hint channels', () => {
    expect(() => validateControlNetConfig(CN2)).not.toThrow();
    expect(() => validateControlNetConfig(CN1)).not.toThrow();
    expect(() => validateControlNetConfig({ ...CN2, hintShape: [16, 16, 1] })).toThrow(/16×16 hint reaches 8×8 after 1 halvings, not the base's 4×4/);
    expect(() => validateControlNetConfig({ ...CN2, hintShape: [8, 4, 1] })).toThrow(/invalid ControlNetConfig/);
    expect(() => validateControlNetConfig({ ...CN2, hintChannels: [4, 8, 8] })).toThrow(/reaches 2×2/);
    expect(() => validateControlNetConfig({ ...CN2, hintShape: [4, 4, 1], hintChannels: [8] })).not.toThrow();
    expect(() => validateControlNetConfig({ ...CN2, hintChannels: [] })).toThrow(/hintChannels/);
    expect(() => validateControlNetConfig({ ...CN2, hintChannels: [4, 0] })).toThrow(/hintChannels/);
    expect(() => validateControlNetConfig({ ...CN2, hintChannels: [4, 2.5] })).toThrow(/hintChannels/);
    expect(() => validateControlNetConfig({ ...CN2, hintShape: [8, 8, 0] })).toThrow(/hint channels/);
    expect(() => validateControlNetConfig({ ...CN2, base: { ...BASE2, groups: 3 } })).toThrow(/UNetConfig/);
    expect(() => createControlNet({ ...CN2, hintShape: [16, 16, 1] }, 1)).toThrow(/invalid ControlNetConfig/);
  });

  it('hintTensor turns 0/1 (or any non-zero) bytes into [n, H, W, 1] floats and refuses a wrong length', async () => {
    const t = hintTensor(Uint8Array.from([0, 1, 255, 0, 0, 2, 1, 0]), 2, 2, 2);
    expect(t.shape).toEqual([2, 2, 2, 1]);
    expect(Array.from(await t.data())).toEqual([0, 1, 1, 0, 0, 1, 1, 0]);
    t.dispose();
    expect(() => hintTensor(new Uint8Array(783), 1)).toThrow(/784/);
  });

  it('parseControlNetMetadata refuses a missing or invalid config and a missing base, naming the source', () => {
    const src = 'https://x.test/models/cn/model.json';
    const ok = parseControlNetMetadata({ config: CN2, base: '../latent/denoiser/' }, src);
    expect(ok.name).toBe('controlnet');
    expect(ok.base).toBe('../latent/denoiser/');
    expect(ok.autoencoder).toBeUndefined();
    expect(parseControlNetMetadata({ name: 'cn', config: CN2, base: 'b/', autoencoder: 'ae/', extra: 1 }, src)).toMatchObject({ name: 'cn', autoencoder: 'ae/', extra: 1 });
    const err = (m: Record<string, unknown>) => {
      try {
        parseControlNetMetadata(m, src);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err({ base: 'b/' })).toMatch(/^https:\/\/x\.test\/models\/cn\/model\.json: .*configuration/);
    expect(err({ config: { base: BASE2, hintShape: [8, 8, 1] }, base: 'b/' })).toMatch(/model\.json: .*configuration/);
    expect(err({ config: 'nope', base: 'b/' })).toMatch(/model\.json: .*configuration/);
    expect(err({ config: CN2 })).toMatch(/^https:\/\/x\.test\/models\/cn\/model\.json: .*base/);
    expect(err({ config: CN2, base: '' })).toMatch(/model\.json: .*base/);
    expect(err({ config: CN2, base: 7 })).toMatch(/model\.json: .*base/);
    expect(err({ config: { ...CN2, hintShape: [16, 16, 1] }, base: 'b/' })).toMatch(/^https:\/\/x\.test\/models\/cn\/model\.json: invalid ControlNetConfig/);
    expect(err({ config: CN2, base: 'b/', autoencoder: 3 })).toMatch(/model\.json: .*autoencoder/);
  });

  it('controlNetFromWeights rebuilds a net from its weights and refuses (and disposes) mis-sized, missing or unknown ones', async () => {
    const { base, net } = setup(CN2, 6);
    randomise(net, 60, () => true);
    const named: NamedWeights = {};
    for (const [name, v] of net.params) named[name] = { shape: [...v.shape], data: Float32Array.from(await v.data()) };
    const meta = parseControlNetMetadata({ config: CN2, base: 'b/' }, 'src');
    const copy = controlNetFromWeights(named, meta, 'src');
    const x = input(BASE2, 2, 61);
    const t = tf.tensor1d([5, 5], 'int32');
    const h = hints(CN2, 2, 62);
    const a = controlledModel(base, net, h, 1)(x, t);
    const b = controlledModel(base, copy, h, 1)(x, t);
    await expectBitIdentical(a, b, 'rebuilt net');
    tf.dispose([a, b]);
    copy.dispose();
    const before = tf.memory().numTensors;
    const w0 = named['zero.mid.w'];
    const bad: NamedWeights[] = [
      { ...named, 'zero.mid.w': { shape: [1, 1, 8, 7], data: w0.data.subarray(0, 56) } },
      Object.fromEntries(Object.entries(named).filter(([k]) => k !== 'hint.zero.b')),
      { ...named, 'zero.skip9.w': w0 },
    ];
    for (const weights of bad) {
      expect(() => controlNetFromWeights(weights, meta, 'models/cn/model.json')).toThrow(/^models\/cn\/model\.json: setWeights/);
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([x, t, h]);
    base.dispose();
    net.dispose();
  });

  it('checkBase accepts the same base configuration and refuses another, naming the source', () => {
    const net = createControlNet(CN2, 1);
    const same = createUNet(BASE2, 99);
    expect(() => checkBase(net, same, 'cn/')).not.toThrow();
    for (const cfg of [{ ...BASE2, numClasses: 0 }, { ...BASE2, channels: [8, 16] }, { ...BASE2, attention: false }, { ...BASE2, tembDim: 16 }, BASE1]) {
      const other = createUNet(cfg, 1);
      expect(() => checkBase(net, other, 'cn/')).toThrow(/^cn\/: this ControlNet was trained for a different base U-Net/);
      other.dispose();
    }
    same.dispose();
    net.dispose();
  });

  it('loadControlNet reads model.json and weights through fetch and gives the same net back', async () => {
    const { base, net } = setup(CN1, 7);
    randomise(net, 70, () => true);
    const named: NamedWeights = {};
    for (const [name, v] of net.params) named[name] = { shape: [...v.shape], data: Float32Array.from(await v.data()) };
    const { modelJson, weightData } = encodeWeights(named, { metadata: { name: 'cn-test', config: CN1, base: '../base/' } });
    const files: Record<string, BodyInit> = { 'mem://m/cn/model.json': JSON.stringify(modelJson), 'mem://m/cn/weights.bin': new Uint8Array(weightData) };
    const fakeFetch = (async (url: string | URL | Request) => {
      const body = files[String(url)];
      return body === undefined ? new Response('missing', { status: 404, statusText: 'Not Found' }) : new Response(body);
    }) as typeof fetch;
    const { net: loaded, metadata } = await loadControlNet('mem://m/cn/', fakeFetch);
    expect(metadata.name).toBe('cn-test');
    expect(metadata.base).toBe('../base/');
    expect(loaded.config).toEqual(CN1);
    const got = await loaded.getWeights();
    for (const [name, w] of Object.entries(named)) expect(sameBits(got[name], w.data), name).toBe(true);
    checkBase(loaded, base, 'mem');
    loaded.dispose();
    // Metadata without a base is refused with the URL in the message.
    const noBase = encodeWeights(named, { metadata: { config: CN1 } });
    files['mem://m/cn/model.json'] = JSON.stringify(noBase.modelJson);
    await expect(loadControlNet('mem://m/cn/', fakeFetch)).rejects.toThrow(/^mem:\/\/m\/cn\/: .*base/);
    base.dispose();
    net.dispose();
  });
});
