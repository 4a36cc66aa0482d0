/**
 * The compute worker's catalogue: every request a widget can make, with its params, result and progress.
 * Everything here is plain, serialisable data; images are Float32Arrays of 28×28 pixels in [−1, 1], row-major,
 * concatenated when there are several.
 */
import type { BackendAttempt, BackendName } from '../core/backends';
import type { KeepHalf } from '../core/img2img';
import type { ScheduleKind } from '../core/types';
import type { LabProgress, LabSettings } from './trainingSession';

/** What the page knows about the lab's session. */
export interface LabInfo {
  step: number;
  settings: LabSettings;
  paramCount: number;
  lossHistory: [number, number][];
  backend: BackendName | null;
  pretrained: boolean;
}

export interface BackendInfo {
  backend: BackendName;
  attempts: BackendAttempt[];
}

/** Unsolicited events the worker broadcasts. */
export type WorkerEvent =
  | { type: 'backend'; backend: BackendName; attempts: BackendAttempt[] }
  | { type: 'fallback'; from: BackendName; to: BackendName; reason: string };

export type ComputeApi = {
  /** Pick the backend (first call wins; later calls report the current one). */
  init: { params: { order?: BackendName[] }; result: BackendInfo };
  /** Digits from the held-out split: by index, or the `nth` example of a class. */
  digits: {
    params: { indices?: number[]; label?: number; nth?: number };
    result: { pixels: Float32Array; labels: Int32Array; indices: Int32Array; count: number };
  };
  /** x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for each t in `ts`, with the same seeded ε for every t. */
  noise: {
    params: { x0: Float32Array; schedule: ScheduleKind; T: number; ts: number[]; seed: number };
    result: { images: Float32Array; eps: Float32Array };
  };
  /**
   * One reverse step of a shipped U-Net, taken apart (Ho et al. 2020, eq. 11): x_t from x_0 and a seeded ε,
   * the predicted ε̂, the implied x̂_0, the posterior mean μ̃ and a sampled x_{t−1}.
   */
  inspect: {
    params: { model: string; x0: Float32Array; t: number; seed: number; zSeed: number; variance: 'beta' | 'betaTilde' };
    result: {
      xt: Float32Array;
      eps: Float32Array;
      epsPred: Float32Array;
      x0Pred: Float32Array;
      mean: Float32Array;
      xPrev: Float32Array;
      /** mean((ε − ε̂)²) */
      epsMse: number;
      sigma: number;
      coef: { sqrtAlphaBar: number; sqrtOneMinusAlphaBar: number; beta: number; alpha: number };
      modelName: string;
    };
  };
  /**
   * One side of the sampler race: `count` samples of a U-Net (shipped, or 'training-lab') from seeded noise,
   * by DDPM (all T steps) or DDIM (`steps`, `eta`). Progress reports the current x_t and x̂_0 at most every
   * `reportMs` milliseconds, and the network evaluations and wall time so far.
   */
  race: {
    params: {
      model: string;
      sampler: 'ddpm' | 'ddim';
      steps: number;
      eta: number;
      variance: 'beta' | 'betaTilde';
      seed: number;
      count: number;
      reportMs?: number;
    };
    result: { x0: Float32Array; nfe: number; elapsedMs: number; steps: number };
    progress: { index: number; steps: number; t: number; x: Float32Array; x0Pred: Float32Array; nfe: number; elapsedMs: number };
  };
  /**
   * Classifier-free guidance on the latent model: `count` latents of digit `digit` by DDIM from one seeded
   * x_T, ε̃ = (1+w) ε(z, c) − w ε(z, ∅) (∅ replaced by `negative` when given), decoded by the autoencoder and
   * measured by classifier-mnist.
   */
  guide: {
    params: { model: string; digit: number; w: number; seed: number; count: number; steps: number; negative: number | null };
    result: {
      images: Float32Array;
      /** Scaled latents, NHWC [count, h, w, c]. */
      latents: Float32Array;
      latentShape: [number, number, number];
      predicted: Int32Array;
      /** Share classified as `digit`. */
      accuracy: number;
      meanConfidence: number;
      /** Mean pairwise distance of the classifier's features (within-class diversity). */
      diversity: number;
      elapsedMs: number;
    };
  };
  /**
   * The latent model's autoencoder on one image: scaled latent z·s = s·E(x), plus `sigma` times seeded standard
   * normal noise (σ in units of the scaled latent's std, which the scale factor makes ≈ 1), decoded by D.
   */
  autoencode: {
    params: { model: string; x: Float32Array; sigma: number; seed: number };
    result: {
      /** Scaled latent of x, NHWC [h, w, c] (no noise). */
      latent: Float32Array;
      /** The latent that was decoded: `latent` + σ ε. */
      noisyLatent: Float32Array;
      latentShape: [number, number, number];
      imageShape: [number, number, number];
      /** D(z) of the noisy latent (the clean latent's decoding when σ = 0). */
      decoded: Float32Array;
      /** D(z) of the clean latent. */
      reconstruction: Float32Array;
      /** mean over pixels of (decoded − x)². */
      mse: number;
      /** mean over pixels of (reconstruction − x)². */
      mseClean: number;
      /** Multiplier s applied to E(x), from the autoencoder's file. */
      latentScale: number;
      modelName: string;
    };
  };
  /**
   * Editing a digit with a shipped pixel U-Net (src/core/img2img.ts), DDIM η = 0 with x̂_0 clipped, conditioned on
   * `digit` or on the null class (∅) when `digit` is null. 'img2img': start at t0 = round(strength·T) from
   * x_{t0} = q(x_{t0} | x_0). 'inpaint': keep the half `keep` of x_0, regenerate the rest from noise at T.
   * Progress reports the current x and x̂_0 at most every `reportMs` milliseconds (and after the last step).
   */
  img2img: {
    params: {
      model: string;
      mode: 'img2img' | 'inpaint';
      x0: Float32Array;
      strength: number;
      steps: number;
      digit: number | null;
      keep: KeepHalf;
      seed: number;
      reportMs?: number;
    };
    result: {
      image: Float32Array;
      /** x_{t0} (img2img only). */
      start: Float32Array | null;
      t0: number;
      timesteps: number[];
      /** The keep mask, 1 = kept (inpaint only). */
      mask: Float32Array | null;
      nfe: number;
      elapsedMs: number;
    };
    /** `done` of `steps` steps taken; x = x_t after the last of them. */
    progress: { done: number; steps: number; t: number; x: Float32Array; x0Pred: Float32Array };
  };
  /** Build a fresh training session (disposing any previous one); `pretrained` starts from models/unet-mnist. */
  'lab.create': { params: { settings: LabSettings; pretrained?: boolean }; result: LabInfo };
  /** Train until cancelled (pause) or `maxSteps` more steps; progress carries the loss and sample grids. */
  'lab.run': {
    params: { maxSteps?: number; lossEvery?: number; sampleEvery?: number; failAfter?: number };
    result: LabInfo;
    progress: LabProgress;
  };
  /** A sample grid from the current weights. */
  'lab.samples': { params: { count: number; steps: number }; result: { images: Float32Array } };
  /** The session as checkpoint bytes (src/core/checkpoint.ts), for IndexedDB or a file. */
  'lab.checkpoint': { params: null; result: { bytes: Uint8Array; step: number } };
  /** Replace the session by one decoded from checkpoint bytes; invalid bytes are refused with a clear error. */
  'lab.restore': { params: { bytes: Uint8Array; source: string }; result: LabInfo };
  /** ε̂ of the session's model for images at timestep t. */
  'lab.predict': { params: { x: Float32Array; t: number }; result: { eps: Float32Array } };
  /** Stop a running `lab.run` (it then resolves) and report the exact state it stopped in. */
  'lab.pause': { params: null; result: LabInfo };
  'lab.reset': { params: null; result: { ok: true } };
  /** The session's state (steps, settings, loss history, backend). */
  'lab.info': { params: null; result: LabInfo };
  /** Tensor bookkeeping, for tests and the debug badge. */
  memory: { params: null; result: { numTensors: number; numBytes: number; backend: BackendName | null } };
};
