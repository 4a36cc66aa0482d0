/**
 * The lab's quality probe, shared by `npm run bench -- lab` and the recipe search (scripts/bench/labSearch.ts):
 * 16 samples from the lab's fixed x_T, read by classifier-mnist; the model "draws digits" when at least 12 of the
 * 16 are read with confidence ≥ 0.9.
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { Classifier } from '../../src/core/classifier';

type Tf = typeof TF;

export const PROBE = { count: 16, confidence: 0.9, needed: 12 } as const;

/** How many of `n` images (floats in [−1, 1], NHWC [n·784]) the classifier reads with confidence ≥ PROBE.confidence. */
export async function confidentCount(tf: Tf, clf: Classifier, images: Float32Array, n: number): Promise<{ confident: number; classes: number[] }> {
  const probs = tf.tidy(() => tf.softmax(clf.logits(tf.tensor4d(images, [n, 28, 28, 1]))));
  const p = (await probs.data()) as Float32Array;
  probs.dispose();
  let confident = 0;
  const classes: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (p[i * 10 + k] > p[i * 10 + best]) best = k;
    classes.push(best);
    if (p[i * 10 + best] >= PROBE.confidence) confident++;
  }
  return { confident, classes };
}

export interface CurvePoint {
  seconds: number;
  steps: number;
  confident: number;
}

/** The first point of a curve with at least PROBE.needed confident samples, or null. */
export function firstDigits(curve: readonly CurvePoint[]): CurvePoint | null {
  return curve.find((p) => p.confident >= PROBE.needed) ?? null;
}
