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
import { CONTEXT_LENGTH, tokenizeBatch } from './captions';
import { encodeText, type ClipModel } from './clip';
import { promptConditioned, promptGuidance } from './guidance';
import type { Denoiser, EpsModel, TextContext } from './types';

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
