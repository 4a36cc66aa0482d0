/**
 * The compute worker's catalogue: every request a widget can make, with its params, result and progress.
 * Everything here is plain, serialisable data; images are Float32Arrays of 28×28 pixels in [−1, 1], row-major,
 * concatenated when there are several.
 */
import type { BackendAttempt, BackendName } from '../core/backends';
import type { ScheduleKind } from '../core/types';

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
  /** Tensor bookkeeping, for tests and the debug badge. */
  memory: { params: null; result: { numTensors: number; numBytes: number; backend: BackendName | null } };
};
