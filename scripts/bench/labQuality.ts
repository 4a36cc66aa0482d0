/**
 * The lab's quality probe, shared by `npm run bench -- lab` and the recipe search (scripts/bench/labSearch.ts):
 * 16 samples from the lab's fixed x_T, read by classifier-mnist; the model "draws digits" when at least 12 of the
 * 16 are digits: read with confidence ≥ 0.9 AND shaped like a real digit (ink share and stroke count within the
 * range of 99 % of the held-out digits, src/widgets/ui/digitShape.ts, as the guidance lab checks). The shape check
 * is needed: classifier-mnist reads an untrained network's pure noise, and the grey blobs of the first few hundred
 * steps, as "8" with confidence above 0.9.
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { Classifier } from '../../src/core/classifier';
import type { Split } from '../../src/core/data';
import { digitLike, shapeRange, shapeStats, type ShapeRange } from '../../src/widgets/ui/digitShape';

type Tf = typeof TF;

export const PROBE = { count: 16, confidence: 0.9, needed: 12 } as const;

/** The held-out digits' shape range (pixels above mid-grey are ink). */
export function heldOutShapes(test: Split): ShapeRange {
  return shapeRange(Array.from({ length: test.count }, (_, i) => shapeStats(test.images, i * 784, 28, 28, 127.5)));
}

/**
 * Of `n` images (floats in [−1, 1], NHWC [n·784]): how many the classifier reads with confidence ≥ PROBE.confidence
 * (`confident`), and how many of those are also shaped like a real digit (`digits`, ink above 0).
 */
export async function confidentCount(tf: Tf, clf: Classifier, images: Float32Array, n: number, shapes?: ShapeRange): Promise<{ confident: number; digits: number; classes: number[] }> {
  const probs = tf.tidy(() => tf.softmax(clf.logits(tf.tensor4d(images, [n, 28, 28, 1]))));
  const p = (await probs.data()) as Float32Array;
  probs.dispose();
  let confident = 0;
  let digits = 0;
  const classes: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (p[i * 10 + k] > p[i * 10 + best]) best = k;
    classes.push(best);
    if (p[i * 10 + best] >= PROBE.confidence) {
      confident++;
      if (!shapes || digitLike(shapeStats(images, i * 784, 28, 28, 0), shapes)) digits++;
    }
  }
  return { confident, digits, classes };
}

export interface CurvePoint {
  seconds: number;
  steps: number;
  /** Samples read with confidence ≥ PROBE.confidence. */
  confident: number;
  /** Of those, the ones shaped like a real digit. */
  digits: number;
}

/** The first point of a curve with at least PROBE.needed digits, or null. */
export function firstDigits(curve: readonly CurvePoint[]): CurvePoint | null {
  return curve.find((p) => p.digits >= PROBE.needed) ?? null;
}
