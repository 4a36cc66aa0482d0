/**
 * A small MNIST classifier used to measure the generative models (accuracy of generated digits, Fréchet
 * distance of its penultimate features). Input x ∈ [−1, 1], NHWC [N, 28, 28, 1].
 *
 * conv 3×3 (1→c1) → act → avgPool 2 → conv 3×3 (c1→c2) → act → avgPool 2 → flatten (7·7·c2)
 *   → dense (→ F) → act = features → dense (F→10) = logits
 *
 * Downsampling is avgPool, never maxPool: the wasm MaxPoolGrad kernel gives wrong gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MNIST_CLASSES, MNIST_COLS, MNIST_ROWS, SeededRandom, batchTensor, type Split } from './data';
import { assignWeights, loadWeightsFromUrl, type NamedWeights } from './io';

export interface ClassifierConfig {
  /** Channels of the two conv layers. */
  channels: [number, number];
  /** Width F of the penultimate (feature) layer. */
  features: number;
  activation: 'relu' | 'silu';
}

export const DEFAULT_CLASSIFIER_CONFIG: ClassifierConfig = { channels: [16, 32], features: 64, activation: 'relu' };

export interface Classifier {
  readonly config: ClassifierConfig;
  /** Trainable parameters keyed by their saved name (e.g. `conv1/kernel`). */
  readonly params: Record<string, tf.Variable>;
  /** Penultimate features [N, F]; the caller disposes the result. */
  features(x: tf.Tensor4D): tf.Tensor2D;
  /** Class logits [N, 10]; the caller disposes the result. */
  logits(x: tf.Tensor4D): tf.Tensor2D;
  /** Both at once (one forward pass); the caller disposes both. */
  apply(x: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D };
  /** Dispose every parameter. */
  dispose(): void;
}

/** Parameter shapes by saved name, in file order. */
export function classifierParamShapes(config: ClassifierConfig = DEFAULT_CLASSIFIER_CONFIG): Record<string, number[]> {
  const [c1, c2] = config.channels;
  const flat = (MNIST_ROWS / 4) * (MNIST_COLS / 4) * c2;
  return {
    'conv1/kernel': [3, 3, 1, c1],
    'conv1/bias': [c1],
    'conv2/kernel': [3, 3, c1, c2],
    'conv2/bias': [c2],
    'dense/kernel': [flat, config.features],
    'dense/bias': [config.features],
    'logits/kernel': [config.features, MNIST_CLASSES],
    'logits/bias': [MNIST_CLASSES],
  };
}

let instances = 0;

/** A classifier with He-normal kernels and zero biases drawn from `seed` (same seed → same weights). */
export function createClassifier(seed = 0, config: Partial<ClassifierConfig> = {}): Classifier {
  const cfg: ClassifierConfig = { ...DEFAULT_CLASSIFIER_CONFIG, ...config };
  const rng = new SeededRandom(seed);
  const prefix = `classifier${instances++}`;
  const params: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(classifierParamShapes(cfg))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    if (name.endsWith('/kernel')) {
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const std = name.startsWith('logits') ? Math.sqrt(1 / fanIn) : Math.sqrt(2 / fanIn);
      for (let i = 0; i < n; i++) values[i] = std * rng.normal();
    }
    const init = tf.tensor(values, shape, 'float32');
    params[name] = tf.variable(init, true, `${prefix}/${name}`);
    init.dispose(); // the variable keeps its own reference to the data
  }
  const act = (x: tf.Tensor) => (cfg.activation === 'relu' ? tf.relu(x) : tf.mul(x, tf.sigmoid(x)));
  const conv = (x: tf.Tensor4D, layer: string) =>
    act(tf.add(tf.conv2d(x, params[`${layer}/kernel`] as tf.Tensor4D, 1, 'same'), params[`${layer}/bias`])) as tf.Tensor4D;
  const forward = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      if (x.shape[1] !== MNIST_ROWS || x.shape[2] !== MNIST_COLS || x.shape[3] !== 1) {
        throw new Error(`classifier: expected input [N, 28, 28, 1], got [${x.shape}]`);
      }
      let h = tf.avgPool(conv(x, 'conv1'), 2, 2, 'valid');
      h = tf.avgPool(conv(h, 'conv2'), 2, 2, 'valid');
      const flat = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
      const features = act(tf.add(tf.matMul(flat, params['dense/kernel'] as tf.Tensor2D), params['dense/bias'])) as tf.Tensor2D;
      const logits = tf.add(tf.matMul(features, params['logits/kernel'] as tf.Tensor2D), params['logits/bias']) as tf.Tensor2D;
      return { features, logits };
    });
  return {
    config: cfg,
    params,
    apply: forward,
    features(x) {
      const { features, logits } = forward(x);
      logits.dispose();
      return features;
    },
    logits(x) {
      const { features, logits } = forward(x);
      features.dispose();
      return logits;
    },
    dispose() {
      for (const v of Object.values(params)) v.dispose();
    },
  };
}

/** Mean softmax cross-entropy of the logits against integer labels [N]; a scalar the caller disposes. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/** A classifier built from saved weights (config read from the file's metadata). */
export function classifierFromWeights(weights: NamedWeights, metadata: Record<string, unknown>, source = 'classifier weights'): Classifier {
  const config = (metadata.config ?? {}) as Partial<ClassifierConfig>;
  const clf = createClassifier(0, config);
  try {
    assignWeights(clf.params, weights, source);
  } catch (e) {
    clf.dispose();
    throw e;
  }
  return clf;
}

/** Fetch a saved classifier (e.g. `/models/classifier-mnist/`). */
export async function loadClassifier(baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<Classifier> {
  const { weights, metadata } = await loadWeightsFromUrl(baseUrl, fetchImpl);
  return classifierFromWeights(weights, metadata, baseUrl);
}

/**
 * Run the classifier over a batch of images x ∈ [−1, 1] (NHWC, any N) in chunks; returns plain arrays:
 * features [N·F], softmax probabilities [N·10] and the argmax class [N]. Does not dispose x.
 */
export async function embed(
  clf: Classifier,
  x: tf.Tensor4D,
  batchSize = 250,
): Promise<{ features: Float32Array; probs: Float32Array; predicted: Int32Array; count: number; dim: number }> {
  const n = x.shape[0];
  const F = clf.config.features;
  const features = new Float32Array(n * F);
  const probs = new Float32Array(n * MNIST_CLASSES);
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const [f, p] = tf.tidy(() => {
      const out = clf.apply(tf.slice(x, [s, 0, 0, 0], [m, -1, -1, -1]));
      return [out.features, tf.softmax(out.logits)];
    });
    features.set(await f.data(), s * F);
    probs.set(await p.data(), s * MNIST_CLASSES);
    f.dispose();
    p.dispose();
  }
  const predicted = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < MNIST_CLASSES; k++) if (probs[i * MNIST_CLASSES + k] > probs[i * MNIST_CLASSES + best]) best = k;
    predicted[i] = best;
  }
  return { features, probs, predicted, count: n, dim: F };
}

export interface ClassifierEvaluation {
  accuracy: number;
  /** Mean cross-entropy (nats). */
  loss: number;
  /** Accuracy per true class. */
  perClass: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Indices (into the split) of the misclassified examples, with their predictions. */
  mistakes: { index: number; label: number; predicted: number }[];
}

/** Accuracy, loss and confusion matrix on (a prefix of) a split. */
export async function evaluateClassifier(clf: Classifier, split: Split, opts: { count?: number; batchSize?: number } = {}): Promise<ClassifierEvaluation> {
  const n = Math.min(opts.count ?? split.count, split.count);
  const bs = opts.batchSize ?? 250;
  const confusion = Array.from({ length: MNIST_CLASSES }, () => new Array<number>(MNIST_CLASSES).fill(0));
  const mistakes: ClassifierEvaluation['mistakes'] = [];
  let lossSum = 0;
  for (let s = 0; s < n; s += bs) {
    const idx = Array.from({ length: Math.min(bs, n - s) }, (_, i) => s + i);
    const x = batchTensor(split, idx);
    const { probs, predicted } = await embed(clf, x, bs);
    x.dispose();
    idx.forEach((i, b) => {
      const label = split.labels[i];
      confusion[label][predicted[b]]++;
      if (predicted[b] !== label) mistakes.push({ index: i, label, predicted: predicted[b] });
      lossSum -= Math.log(Math.max(probs[b * MNIST_CLASSES + label], 1e-30));
    });
  }
  const perClass = confusion.map((row, c) => row[c] / Math.max(1, row.reduce((a, b) => a + b, 0)));
  return { accuracy: (n - mistakes.length) / n, loss: lossSum / n, perClass, confusion, mistakes };
}
