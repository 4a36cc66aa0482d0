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
  /** Tensor bookkeeping, for tests and the debug badge. */
  memory: { params: null; result: { numTensors: number; numBytes: number; backend: BackendName | null } };
};
