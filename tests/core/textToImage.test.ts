/**
 * The text-conditioned U-Net (cross-attention to a prompt's token states) and prompt guidance: parameter count,
 * pad masking, attention maps, the negative-prompt formula, a gradient against finite differences, and tensor counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../helpers/backends';
import '../../src/core/nn/registerGradients';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { createClip, DEFAULT_CLIP_CONFIG, type ClipModel } from '../../src/core/clip';
import { CONTEXT_LENGTH, EOS_ID, PAD_ID, VOCAB_SIZE, tokenize } from '../../src/core/captions';
import { promptConditioned, promptGuidance } from '../../src/core/guidance';
import { makeRng } from '../../src/core/noise';
import { createAutoencoder, decodeScaled, encodeScaled, type Autoencoder } from '../../src/core/autoencoder';
import { makeNoise } from '../../src/core/noise';
import { makeSchedule } from '../../src/core/schedules';
import { disposeContext, promptContext, promptDenoiser, promptImg2img, promptInpaint, type LatentTextModel } from '../../src/core/textToImage';
import type { TextContext } from '../../src/core/types';
import { countUNetParams, createUNet, validateUNetConfig, type UNet, type UNetConfig } from '../../src/core/unet';

const D = 16;
/** A small text U-Net: two levels, middle self-attention, cross-attention everywhere, no classes. */
const TEXT: UNetConfig = {
  inputShape: [4, 4, 2],
  channels: [8, 8],
  numResBlocks: 1,
  attention: true,
  tembDim: 8,
  groups: 4,
  numClasses: 0,
  crossAttention: { contextDim: D, heads: 2 },
};

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function input(n: number, seed = 1): tf.Tensor4D {
  const [h, w, c] = TEXT.inputShape;
  return tf.tensor4d(randomArray(seed, n * h * w * c), [n, h, w, c]);
}

/** A context of n prompts whose first `lengths[i]` tokens are real, the rest padding (random states everywhere). */
function context(lengths: number[], seed = 5): TextContext {
  const n = lengths.length;
  const mask = new Float32Array(n * CONTEXT_LENGTH);
  lengths.forEach((len, i) => mask.fill(1, i * CONTEXT_LENGTH, i * CONTEXT_LENGTH + len));
  return { states: tf.tensor3d(randomArray(seed, n * CONTEXT_LENGTH * D), [n, CONTEXT_LENGTH, D]), mask: tf.tensor2d(mask, [n, CONTEXT_LENGTH]) };
}

let clip: ClipModel;
let unet: UNet;

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
  clip = createClip({ ...DEFAULT_CLIP_CONFIG, vocabSize: VOCAB_SIZE, width: D, embedDim: D, heads: 2, layers: 1 }, 3);
  unet = createUNet(TEXT, 7);
});
afterAll(() => {
  clip.dispose();
  unet.dispose();
});

describe('the cross-attention U-Net', () => {
  it('has exactly the parameters countUNetParams predicts, and names its cross-attention layers', () => {
    expect(unet.paramCount()).toBe(countUNetParams(TEXT));
    const names = [...unet.params.keys()];
    for (const layer of ['down0.xattn0', 'down1.xattn0', 'mid.xattn', 'up1.xattn0', 'up0.xattn0']) expect(names).toContain(`${layer}.k.w`);
    expect(unet.params.get('mid.xattn.k.w')!.shape).toEqual([D, 8]);
    expect(() => validateUNetConfig({ ...TEXT, crossAttention: { contextDim: D, heads: 3 } })).toThrow(/heads/);
  });

  it('refuses to run without a prompt, and a plain U-Net refuses one', () => {
    const x = input(1);
    const t = tf.tensor1d([10], 'int32');
    expect(() => unet.model(x, t)).toThrow(/TextContext/);
    const plain = createUNet({ ...TEXT, crossAttention: undefined }, 1);
    const c = context([3]);
    expect(() => plain.model(x, t, undefined, c)).toThrow(/no cross-attention/);
    plain.dispose();
    disposeContext(c);
    tf.dispose([x, t]);
  });

  it('ignores whatever sits at padded positions: the mask makes appended pads change nothing', async () => {
    const x = input(2);
    const t = tf.tensor1d([300, 700], 'int32');
    const a = context([3, 5], 5);
    // Same real tokens, different junk in the padding.
    const mask = await a.mask.data();
    const junk = randomArray(99, 2 * CONTEXT_LENGTH * D);
    const states = Float32Array.from(await a.states.data());
    for (let i = 0; i < 2 * CONTEXT_LENGTH; i++) if (mask[i] === 0) states.set(junk.subarray(i * D, (i + 1) * D), i * D);
    const b: TextContext = { states: tf.tensor3d(states, [2, CONTEXT_LENGTH, D]), mask: a.mask.clone() };
    const ea = unet.model(x, t, undefined, a);
    const eb = unet.model(x, t, undefined, b);
    expect(maxAbsDiff(await read(ea), await read(eb))).toBe(0);
    // …while a change in a real token does change the prediction.
    const real = Float32Array.from(await a.states.data());
    real[0] += 1;
    const c: TextContext = { states: tf.tensor3d(real, [2, CONTEXT_LENGTH, D]), mask: a.mask.clone() };
    const ec = unet.model(x, t, undefined, c);
    expect(maxAbsDiff(await read(ea), await read(ec))).toBeGreaterThan(1e-6);
    tf.dispose([x, t, ea, eb, ec]);
    [a, b, c].forEach(disposeContext);
  });

  it('reports one attention map per cross-attention layer that sums to 1 over the tokens and is 0 on pads', async () => {
    const x = input(2);
    const t = tf.tensor1d([500, 500], 'int32');
    const maps: Record<string, { shape: number[]; data: Float32Array }> = {};
    const c: TextContext = { ...context([4, 2]), onAttention: (layer, w) => void (maps[layer] = { shape: w.shape, data: w.dataSync() as Float32Array }) };
    const eps = unet.model(x, t, undefined, c);
    expect(Object.keys(maps).sort()).toEqual(['down0.xattn0', 'down1.xattn0', 'mid.xattn', 'up0.xattn0', 'up1.xattn0']);
    expect(maps['down0.xattn0'].shape).toEqual([2, 2, 16, CONTEXT_LENGTH]);
    expect(maps['mid.xattn'].shape).toEqual([2, 2, 4, CONTEXT_LENGTH]);
    for (const { shape, data } of Object.values(maps)) {
      const [n, h, q, l] = shape;
      for (let row = 0; row < n * h * q; row++) {
        const example = Math.floor(row / (h * q));
        const real = example === 0 ? 4 : 2;
        let sum = 0;
        for (let k = 0; k < l; k++) {
          const v = data[row * l + k];
          if (k >= real) expect(v).toBe(0);
          sum += v;
        }
        expect(sum).toBeCloseTo(1, 5);
      }
    }
    tf.dispose([x, t, eps]);
    disposeContext(c);
  });

  it('has the gradient of finite differences for a cross-attention key weight (cpu and wasm)', async () => {
    for (const backend of ['cpu', 'wasm'] as TestBackend[]) {
      await useBackend(backend);
      const x = input(2, 3);
      const t = tf.tensor1d([200, 800], 'int32');
      const c = context([3, 6], 8);
      const target = input(2, 4);
      const w = unet.params.get('mid.xattn.k.w')!;
      const lossFn = () => tf.mean(tf.squaredDifference(unet.model(x, t, undefined, c), target)) as tf.Scalar;
      const { grads, value } = tf.variableGrads(lossFn, [w]);
      const g = await read(grads[w.name]);
      value.dispose();
      tf.dispose(Object.values(grads));
      const original = Float32Array.from(await w.data());
      const h = 1e-2;
      for (const i of [0, 5, 17, 100]) {
        const at = async (delta: number) => {
          const v = Float32Array.from(original);
          v[i] += delta;
          w.assign(tf.tensor(v, w.shape));
          const l = lossFn();
          const r = (await l.data())[0];
          l.dispose();
          return r;
        };
        const fd = ((await at(h)) - (await at(-h))) / (2 * h);
        w.assign(tf.tensor(original, w.shape));
        expect(Math.abs(fd - g[i]), `${backend} entry ${i}: fd ${fd} vs ${g[i]}`).toBeLessThan(2e-3 + 0.05 * Math.abs(fd));
      }
      tf.dispose([x, t, target]);
      disposeContext(c);
    }
    await useBackend('wasm');
  });
});

describe('prompts and guidance', () => {
  it('encodes prompts into one state row per token and a mask that ends at <eos>', async () => {
    const c = promptContext(clip, ['a bold seven', '']);
    expect(c.states.shape).toEqual([2, CONTEXT_LENGTH, D]);
    const mask = await c.mask.data();
    const ids = [tokenize('a bold seven').ids, tokenize('').ids];
    ids.forEach((row, i) => {
      const eos = Array.from(row).indexOf(EOS_ID);
      for (let k = 0; k < CONTEXT_LENGTH; k++) expect(mask[i * CONTEXT_LENGTH + k]).toBe(k <= eos ? 1 : 0);
      expect(row[eos + 1] ?? PAD_ID).toBe(PAD_ID);
    });
    disposeContext(c);
  });

  it('guides with a negative prompt exactly as (1 + w) ε(prompt) − w ε(negative)', async () => {
    const x = input(3, 11);
    const prompt = promptContext(clip, ['a bold seven']);
    const negative = promptContext(clip, ['bold']);
    const w = 2.5;
    const guided = promptGuidance(unet.model, { prompt, negative, w })(x, 400);
    const ec = promptConditioned(unet.model, prompt)(x, 400);
    const en = promptConditioned(unet.model, negative)(x, 400);
    const [g, c, n] = await Promise.all([read(guided), read(ec), read(en)]);
    const expected = c.map((v, i) => (1 + w) * v - w * n[i]);
    expect(maxAbsDiff(g, expected)).toBeLessThan(1e-4);
    // w = 0 is the plain conditional model, in one pass.
    const plain = promptDenoiser(unet.model, prompt, negative, 0)(x, 400);
    expect(maxAbsDiff(await read(plain), c)).toBe(0);
    tf.dispose([x, guided, ec, en, plain]);
    disposeContext(prompt);
    disposeContext(negative);
  });

  it('leaves no tensors behind: encoding prompts, a guided step with attention maps, disposing', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const x = input(2, i);
      const prompt: TextContext = { ...promptContext(clip, ['the digit 4']), onAttention: () => undefined };
      const negative = promptContext(clip, ['']);
      const eps = promptDenoiser(unet.model, prompt, negative, 3)(x, 600);
      tf.dispose([x, eps]);
      disposeContext(prompt);
      disposeContext(negative);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('editing with a prompt (img2img and inpainting on the latent)', () => {
  let ae: Autoencoder;
  let m: LatentTextModel;
  const image = (seed: number) => tf.tidy(() => tf.tanh(tf.tensor4d(randomArray(seed, 2 * 16 * 16), [2, 16, 16, 1])) as tf.Tensor4D);
  beforeAll(() => {
    ae = createAutoencoder({ inputShape: [16, 16, 1], channels: [4, 4], latentChannels: 2 }, 2);
    m = { model: unet.model, autoencoder: ae, latentScale: 1.7, schedule: makeSchedule('cosine', 100) };
  });
  afterAll(() => ae.dispose());

  it('at strength 0 returns the autoencoder’s reconstruction, and at any strength leaves no tensors', async () => {
    const x = image(21);
    const prompt = promptContext(clip, ['a bold seven']);
    const negative = promptContext(clip, ['']);
    const before = tf.memory().numTensors;
    const r0 = await promptImg2img(m, x, { prompt, negative, w: 2, strength: 0, steps: 5, noise: makeNoise(1) });
    const rec = tf.tidy(() => decodeScaled(m, encodeScaled(m, x)));
    expect(maxAbsDiff(await read(r0.image), await read(rec))).toBe(0);
    expect(r0.t0).toBe(0);
    tf.dispose([r0.image, r0.latent, rec]);
    const r = await promptImg2img(m, x, { prompt, negative, w: 2, strength: 0.6, steps: 5, noise: makeNoise(1) });
    expect(r.t0).toBe(60);
    expect(r.timesteps[0]).toBe(60);
    expect(r.image.shape).toEqual([2, 16, 16, 1]);
    expect(r.latent.shape).toEqual([2, 4, 4, 2]);
    tf.dispose([r.image, r.latent]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    disposeContext(prompt);
    disposeContext(negative);
  });

  it('inpainting keeps the kept half’s pixels exactly and regenerates the other half', async () => {
    const x = image(22);
    const prompt = promptContext(clip, ['the digit 3']);
    const negative = promptContext(clip, ['bold']);
    const before = tf.memory().numTensors;
    const r = await promptInpaint(m, x, { prompt, negative, w: 3, keep: 'left', steps: 4, noise: makeNoise(2) });
    const [got, want] = [await read(r.image), await read(x)];
    let changed = 0;
    for (let n = 0; n < 2; n++) {
      for (let y = 0; y < 16; y++) {
        for (let c = 0; c < 16; c++) {
          const i = n * 256 + y * 16 + c;
          if (c < 8) expect(got[i]).toBe(want[i]);
          else if (Math.abs(got[i] - want[i]) > 1e-3) changed++;
        }
      }
    }
    expect(changed).toBeGreaterThan(100);
    tf.dispose([r.image, r.latent]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    disposeContext(prompt);
    disposeContext(negative);
  });
});
