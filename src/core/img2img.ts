/**
 * Editing with a trained denoiser, no retraining: image-to-image (SDEdit, Meng et al. 2022) and inpainting by
 * replacement (the simple method RePaint, Lugmayr et al. 2022, builds on; here without its resampling loops).
 *
 * | function  | what                                                                                        |
 * |-----------|---------------------------------------------------------------------------------------------|
 * | `img2img` | t0 = round(s·T); x_{t0} = √ᾱ_{t0} x_0 + √(1−ᾱ_{t0}) ε; DDIM (η = 0) on img2imgTimesteps(t0) |
 * | `inpaint` | x_T ~ N(0, I); after each DDIM step to t′: x_{t′} ← k ⊙ q(x_{t′} given x_0) + (1 − k) ⊙ x_{t′}       |
 *
 * `steps` is spread over the part that is run: img2img takes min(steps, t0) DDIM steps from t0 down to 0 whatever the
 * strength, so a light edit takes smaller steps, not fewer. diffusers' img2img pipelines instead lay `steps` over the
 * whole schedule and run the int(steps · s) of them below t0, so there a light edit is also a fast one.
 *
 * k is the *keep* mask: 1 where the input is known and kept, 0 where it is regenerated (the lesson's m = 1 − k).
 * At t′ = 0 the known region is x_0 itself. Both reuse the samplers' loop (samplers/common.ts: tensor ownership,
 * onStep, AbortSignal) and the DDIM update (samplers/ddim.ts); randomness comes only from `opts.noise`.
 * x_0 is never disposed; every tensor returned belongs to the caller.
 */
import * as tf from '@tensorflow/tfjs-core';
import { qSample } from './forward';
import { runSampler, throwIfAborted } from './samplers/common';
import { ddimStep } from './samplers/ddim';
import { gridTransitions, img2imgStart, img2imgTimesteps } from './samplers/partial';
import type { Denoiser, NoiseSource, Schedule, StepInfo } from './types';

export { img2imgStart, img2imgTimesteps } from './samplers/partial';

/** Number of DDIM steps when none is given. */
export const EDIT_DEFAULT_STEPS = 20;

export { halfMask, KEEP_HALVES, type KeepHalf } from './masks';

interface EditOptions {
  /** Number of DDIM steps over the part of the schedule that is run, t0 … 0 (fewer only when t0 < steps). */
  steps?: number;
  /** Seeded noise: ε of the forward jump, x_T, and the re-noised known region. */
  noise: NoiseSource;
  /** Clip x̂_0 to [−1, 1] in every step (as the site's pixel samplers do). */
  clipX0?: boolean;
  /** Called after every step; may be async (awaited). Tensors are valid only during the call. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Aborts between steps: the run rejects with an AbortError and leaks nothing. */
  signal?: AbortSignal;
}

export interface Img2ImgOptions extends EditOptions {
  /** s ∈ [0, 1] (clamped): the reverse process starts at t0 = round(s·T). */
  strength: number;
}

export interface Img2ImgResult {
  /** The edited image x_0. */
  x: tf.Tensor4D;
  /** Where the reverse process started: x_{t0} (x_0 itself when t0 = 0). */
  xStart: tf.Tensor4D;
  t0: number;
  /** The visited timesteps, t0 … 0. */
  timesteps: number[];
}

function checkImage(x0: tf.Tensor4D, what: string): void {
  if (x0.rank !== 4) throw new RangeError(`${what} expects an NHWC image batch, got shape [${x0.shape}]`);
}

/** Image-to-image: noise x_0 to t0 = round(s·T), then deterministic DDIM back to t = 0. */
export async function img2img(denoiser: Denoiser, schedule: Schedule, x0: tf.Tensor4D, opts: Img2ImgOptions): Promise<Img2ImgResult> {
  checkImage(x0, 'img2img');
  const { noise, clipX0 = false, onStep, signal } = opts;
  if (noise === undefined) throw new TypeError('opts.noise is required (randomness is an argument)');
  throwIfAborted(signal);
  const t0 = img2imgStart(opts.strength, schedule.T);
  const timesteps = img2imgTimesteps(t0, opts.steps ?? EDIT_DEFAULT_STEPS);
  if (t0 === 0) return { x: tf.clone(x0), xStart: tf.clone(x0), t0, timesteps };
  const xStart = tf.tidy(() => qSample(schedule, x0, t0, noise.normal(x0.shape) as tf.Tensor4D));
  try {
    const x = await runSampler(
      denoiser,
      xStart,
      gridTransitions(timesteps),
      (x, eps, tr) => ddimStep(x, eps, schedule, tr.t, tr.tPrev, { clipX0 }),
      { noise, onStep, signal },
    );
    return { x, xStart, t0, timesteps };
  } catch (e) {
    xStart.dispose();
    throw e;
  }
}

export interface InpaintOptions extends EditOptions {
  /** 1 where x_0 is known and kept, 0 where it is regenerated; broadcastable to x_0 (e.g. [1, H, W, 1]). */
  keep: tf.Tensor;
}

export interface InpaintResult {
  x: tf.Tensor4D;
  /** The visited timesteps, T … 0. */
  timesteps: number[];
}

/**
 * Inpainting by replacement: DDIM from pure noise at T; after each step to t′ the known region is overwritten by
 * x_0 noised to t′ with fresh noise (x_0 itself at t′ = 0), so the model always sees a consistent known part.
 */
export async function inpaint(denoiser: Denoiser, schedule: Schedule, x0: tf.Tensor4D, opts: InpaintOptions): Promise<InpaintResult> {
  checkImage(x0, 'inpaint');
  const { noise, keep, clipX0 = false, onStep, signal } = opts;
  if (noise === undefined) throw new TypeError('opts.noise is required (randomness is an argument)');
  throwIfAborted(signal);
  const timesteps = img2imgTimesteps(schedule.T, opts.steps ?? EDIT_DEFAULT_STEPS);
  const xT = noise.normal(x0.shape) as tf.Tensor4D;
  const regenerate = tf.sub(1, keep); // 1 − k, made once rather than at every step
  try {
    const x = await runSampler(
      denoiser,
      xT,
      gridTransitions(timesteps),
      (x, eps, tr) => {
        const r = ddimStep(x, eps, schedule, tr.t, tr.tPrev, { clipX0 });
        const known = tr.tPrev === 0 ? x0 : qSample(schedule, x0, tr.tPrev, noise.normal(x0.shape) as tf.Tensor4D);
        const blended = tf.add(tf.mul(keep, known), tf.mul(regenerate, r.x)) as tf.Tensor4D;
        return { x: blended, x0Pred: r.x0Pred };
      },
      { noise, onStep, signal },
    );
    return { x, timesteps };
  } finally {
    xT.dispose();
    regenerate.dispose();
  }
}
