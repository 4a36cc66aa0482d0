/**
 * The text-to-image pipeline at digit scale, stage by stage as in Stable Diffusion (Rombach et al. 2022, §3.3):
 *
 *   prompt ─ tokenize (captions.ts) ─ CLIP text encoder (clip.ts) ─ per-token states + mask = TextContext
 *   z_T ~ N(0, I) [N, 7, 7, 4] ─ sampler over promptGuidance(U-Net with cross-attention) ─ z_0
 *   z_0 / latentScale ─ autoencoder decoder ─ 28×28 image
 *
 * The empty prompt "" (only `<eos>`) is the unconditional branch; a negative prompt takes its place.
 */
import * as tf from '@tensorflow/tfjs-core';
import { decodeScaled, encodeScaled, type Autoencoder } from './autoencoder';
import { CONTEXT_LENGTH, tokenizeBatch } from './captions';
import { encodeText, type ClipModel } from './clip';
import { promptConditioned, promptGuidance } from './guidance';
import { img2img, inpaint } from './img2img';
import { halfMask, type KeepHalf } from './masks';
import type { Denoiser, EpsModel, NoiseSource, Schedule, StepInfo, TextContext } from './types';

/** The prompt every unconditional prediction reads (trained in place of the caption pUncond of the time). */
export const EMPTY_PROMPT = '';

/**
 * Token states and mask of `prompts` under the frozen CLIP text encoder (one row per prompt). The caller disposes
 * `states` and `mask` (or calls `disposeContext`).
 */
export function promptContext(clip: ClipModel, prompts: readonly string[]): TextContext {
  return tf.tidy(() => {
    const ids = tf.tensor2d(tokenizeBatch(prompts), [prompts.length, CONTEXT_LENGTH], 'int32');
    const enc = encodeText(clip, ids);
    return { states: enc.states, mask: tf.cast(enc.tokenMask, 'float32') as tf.Tensor2D };
  });
}

/** Dispose a context's tensors. */
export function disposeContext(c: TextContext): void {
  c.states.dispose();
  c.mask.dispose();
}

/**
 * The denoiser a sampler runs for one prompt: plain conditional at w = 0 (one pass), else classifier-free guidance
 * against `negative` (the empty prompt's context, or a negative prompt's). Contexts are not disposed here.
 */
export function promptDenoiser(model: EpsModel, prompt: TextContext, negative: TextContext, w: number): Denoiser {
  return w === 0 ? promptConditioned(model, prompt) : promptGuidance(model, { prompt, negative, w });
}

/** What a prompt-guided edit needs: the text U-Net, the autoencoder and its latentScale, the schedule. */
export interface LatentTextModel {
  model: EpsModel;
  autoencoder: Autoencoder;
  latentScale: number;
  schedule: Schedule;
}

export interface PromptEditOptions {
  prompt: TextContext;
  /** The empty prompt's context, or a negative prompt's. */
  negative: TextContext;
  /** Guidance strength w (s = 1 + w). */
  w: number;
  /** DDIM steps over the part of the schedule that is run. */
  steps?: number;
  noise: NoiseSource;
  onStep?: (info: StepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

/**
 * Image-to-image with a prompt, as Stable Diffusion's img2img pipeline does it: encode the image, noise its scaled
 * latent to t0 = round(s·T) (SDEdit, Meng et al. 2022), run the prompt-guided DDIM back to 0 (src/core/img2img.ts),
 * decode. Returns the image and the latent it came from; the caller disposes both. x0 is not disposed.
 */
export async function promptImg2img(m: LatentTextModel, x0: tf.Tensor4D, opts: PromptEditOptions & { strength: number }): Promise<{ image: tf.Tensor4D; latent: tf.Tensor4D; t0: number; timesteps: number[] }> {
  const z0 = encodeScaled(m, x0);
  try {
    const r = await img2img(promptDenoiser(m.model, opts.prompt, opts.negative, opts.w), m.schedule, z0, {
      strength: opts.strength,
      steps: opts.steps,
      noise: opts.noise,
      onStep: opts.onStep,
      signal: opts.signal,
    });
    r.xStart.dispose();
    const image = decodeScaled(m, r.x);
    return { image, latent: r.x, t0: r.t0, timesteps: r.timesteps };
  } finally {
    z0.dispose();
  }
}

/**
 * Inpainting with a prompt: replacement inpainting (src/core/img2img.ts `inpaint`) on the scaled latent, keeping the
 * latent cells of the kept half (the mask at latent resolution, halfMask of the latent grid), then decoding, and
 * finally pasting the kept half of the input back over the decoded image, so the kept pixels are exactly the
 * input's (the decoder only reconstructs them approximately). Caller disposes both results.
 */
export async function promptInpaint(m: LatentTextModel, x0: tf.Tensor4D, opts: PromptEditOptions & { keep: KeepHalf }): Promise<{ image: tf.Tensor4D; latent: tf.Tensor4D; timesteps: number[] }> {
  const [, h, w] = x0.shape;
  const [lh, lw] = [m.autoencoder.latentShape[0], m.autoencoder.latentShape[1]];
  const z0 = encodeScaled(m, x0);
  const keepLatent = tf.tensor4d(halfMask(opts.keep, lh, lw), [1, lh, lw, 1]);
  try {
    const r = await inpaint(promptDenoiser(m.model, opts.prompt, opts.negative, opts.w), m.schedule, z0, {
      keep: keepLatent,
      steps: opts.steps,
      noise: opts.noise,
      onStep: opts.onStep,
      signal: opts.signal,
    });
    const image = tf.tidy(() => {
      const k = tf.tensor4d(halfMask(opts.keep, h, w), [1, h, w, 1]);
      return tf.add(tf.mul(k, x0), tf.mul(tf.sub(1, k), decodeScaled(m, r.x))) as tf.Tensor4D;
    });
    return { image, latent: r.x, timesteps: r.timesteps };
  } finally {
    z0.dispose();
    keepLatent.dispose();
  }
}
