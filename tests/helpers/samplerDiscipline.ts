/** Test-only: the tensor discipline every sampler owes its caller, checked the same way for each. */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { makeNoise } from '../../src/core/noise';
import type { SampleOptions, Sampler, Schedule } from '../../src/core/types';
import { gaussianDenoiser } from './analytic';
import { read } from './backends';

/**
 * Runs `sampler` once to the end with an onStep that reads x̂₀ and ε̂ (one new tensor left: the result), then once
 * more aborted after step `abortAt` (an AbortError, nothing left behind); x_T is never disposed. Returns how many
 * network calls the aborted run made.
 */
export async function checkTensorDiscipline(
  sampler: Sampler,
  schedule: Schedule,
  xT: tf.Tensor4D,
  opts: Omit<SampleOptions, 'noise' | 'signal' | 'onStep'>,
  abortAt: number,
): Promise<number> {
  const before = tf.memory().numTensors;
  const x0 = await sampler(gaussianDenoiser(schedule, 0, 1), xT, schedule, {
    ...opts,
    noise: makeNoise(2),
    onStep: async (info) => {
      await read(info.x0Pred);
      await read(info.eps);
    },
  });
  expect(tf.memory().numTensors).toBe(before + 1);
  x0.dispose();
  const controller = new AbortController();
  const d = gaussianDenoiser(schedule, 0, 1);
  const run = sampler(d, xT, schedule, {
    ...opts,
    noise: makeNoise(2),
    signal: controller.signal,
    onStep: async (info) => {
      await new Promise((r) => setTimeout(r, 0));
      if (info.index === abortAt) controller.abort();
    },
  });
  await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  expect(tf.memory().numTensors).toBe(before);
  expect(xT.isDisposed).toBe(false);
  return d.calls;
}
