/**
 * The lab's quality probe, shared by `npm run bench -- lab` and the recipe search (scripts/bench/labSearch.ts):
 * 16 samples from the lab's fixed x_T, read by classifier-mnist; the model "draws digits" when at least 12 of the
 * 16 (or fewer, see neededDigits) are digits: read with confidence ≥ 0.9 AND shaped like a real digit (ink share and stroke count within the
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

/**
 * How many digits the fully trained shipped unet-mnist draws, unconditionally (the null class), with the lab's
 * sampler from the lab's x_T (seed `seed + 777`, as TrainingSession's grid). A threshold above it would ask a
 * freshly trained lab model for more than the finished model does: with the shape check, the shipped model's
 * unconditional grid has fewer than 12 digits.
 */
export async function referenceDigits(tf: Tf, root: string, clf: Classifier, shapes: ShapeRange, seed: number, steps: number, sampler: 'ddim' | 'dpmpp2m'): Promise<number> {
  const { join } = await import('node:path');
  const { loadWeightsFromDir } = await import('../lib/weights-file');
  const { parseUNetMetadata, unetFromWeights } = await import('../../src/core/models');
  const { samplers } = await import('../../src/core/samplers');
  const { makeNoise } = await import('../../src/core/noise');
  const { makeSchedule } = await import('../../src/core/schedules');
  const { unconditional } = await import('../../src/core/guidance');
  const dir = join(root, 'models', 'unet-mnist');
  const { weights, metadata } = loadWeightsFromDir(dir);
  const meta = parseUNetMetadata(metadata, dir);
  const unet = unetFromWeights(weights, meta, dir);
  const noise = makeNoise(seed + 777);
  const xT = noise.normal([PROBE.count, 28, 28, 1]) as TF.Tensor4D;
  try {
    const x0 = await samplers[sampler](unconditional(unet.model), xT, makeSchedule(meta.schedule.kind, meta.schedule.T), { noise, steps, eta: 0, clipX0: true });
    const images = (await x0.data()) as Float32Array;
    x0.dispose();
    return (await confidentCount(tf, clf, images, PROBE.count, shapes)).digits;
  } finally {
    xT.dispose();
    unet.dispose();
  }
}

/** The digits a grid needs: PROBE.needed, or the shipped model's own count from the same noise when that is lower. */
export const neededDigits = (reference: number): number => Math.max(1, Math.min(PROBE.needed, reference));

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

/** The first point of a curve with at least `needed` digits, or null. */
export function firstDigits(curve: readonly CurvePoint[], needed: number): CurvePoint | null {
  return curve.find((p) => p.digits >= needed) ?? null;
}
