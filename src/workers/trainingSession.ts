/**
 * The training lab's model, optimiser and data inside the compute worker. Everything tensor-shaped lives here;
 * the page only sends settings and receives numbers and images.
 *
 * Speed rules: the training split is uploaded to the backend once; batches are gathered on the
 * device; the loss is read asynchronously, at most every `lossEvery` steps (never dataSync); the loop yields to
 * the worker's event queue between steps so a pause (cancel) is seen at once.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Checkpoint, TrainingState } from '../core/checkpoint';
import { range, toFloatBatch, type Split } from '../core/data';
import { unconditional } from '../core/guidance';
import type { UNetMetadata } from '../core/models';
import { makeNoise, makeRng, type Rng } from '../core/noise';
import { samplers } from '../core/samplers';
import { makeSchedule } from '../core/schedules';
import { createTrainer, type Trainer } from '../core/train';
import type { Schedule } from '../core/types';
import { appendCapped } from '../core/downsample';
import { countUNetParams, createUNet, MNIST_UNET_CONFIG, type UNet, type UNetConfig } from '../core/unet';
import type { LabProgress, LabSettings } from './api';

export type { LabProgress, LabSettings };

export type LabSize = LabSettings['size'];

/** How the lab trains one preset: the network's shape and the training options around the reader's settings. */
export interface LabRecipe {
  config: UNetConfig;
  /** Linear learning-rate warm-up over this many steps (0: none). */
  warmupSteps: number;
  /** Decay of the weights' moving average that draws the sample grid; absent: the grid uses the raw weights. */
  emaDecay?: number;
  /** Min-SNR-γ loss weights (0: plain L_simple). */
  minSnrGamma: number;
  /** The sample grid's sampler (deterministic, from the lab's fixed noise) and its number of steps. */
  sampler: 'ddim' | 'dpmpp2m';
  sampleSteps: number;
}

/** The lab's presets. `tiny` shows digits within minutes on a laptop; `small` is the shipped model's shape. */
export const LAB_RECIPES: Record<LabSize, LabRecipe> = {
  /**
   * Two levels (28, 14), 16/32 channels, no attention: about 64k parameters. The grid is drawn by a moving average of
   * the weights (decay 0.99). In the recipe search (scripts/bench/labSearch.ts, the list under the lab) the model's
   * progress per step hardly depended on the batch size, so the lab's default batch is the smallest (8, in api.ts's
   * lab.create), about 3.5× cheaper a step than 32; the average brought the grid's digits sooner; a patch stem, a
   * third level, other samplers and step counts did not.
   */
  tiny: {
    config: { inputShape: [28, 28, 1], channels: [16, 32], numResBlocks: 1, attention: false, tembDim: 32, groups: 8, numClasses: 0 },
    warmupSteps: 0,
    emaDecay: 0.99,
    minSnrGamma: 0,
    sampler: 'ddim',
    sampleSteps: 20,
  },
  /** The shipped unet-mnist's shape without its class embedding (128,257 parameters). */
  small: {
    config: { ...MNIST_UNET_CONFIG, inputShape: [28, 28, 1], channels: [...MNIST_UNET_CONFIG.channels], numClasses: 0 },
    warmupSteps: 0,
    minSnrGamma: 0,
    sampler: 'ddim',
    sampleSteps: 20,
  },
};

/** Model shapes of the presets. */
export const LAB_PRESETS: Record<LabSize, UNetConfig> = { tiny: LAB_RECIPES.tiny.config, small: LAB_RECIPES.small.config };

/** Most parameters a restored U-Net may have: 4× the largest preset. */
export const MAX_LAB_PARAMS = 4 * Object.values(LAB_PRESETS).reduce((most, c) => Math.max(most, countUNetParams(c)), 0);

const isCount = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** Why the lab cannot train `config` (a message naming the field), or null when it can. */
export function labConfigProblem(config: UNetConfig): string | null {
  const c = config as unknown as Record<string, unknown>;
  const shape = c.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3 || shape[0] !== 28 || shape[1] !== 28 || shape[2] !== 1) {
    return `config.inputShape must be [28, 28, 1] (the lab trains on MNIST), got ${JSON.stringify(shape)?.slice(0, 60)}`;
  }
  const channels = c.channels;
  if (!Array.isArray(channels) || channels.length < 1 || channels.length > 3 || !channels.every((ch) => isCount(ch, 1))) {
    return 'config.channels must list 1 to 3 positive integers';
  }
  if (c.patch !== undefined && c.patch !== 1 && c.patch !== 2) return 'config.patch must be 1 or 2';
  if (c.patch === 2 && channels.length > 2) return 'config.channels: a U-Net with the 2×2 patch stem has at most 2 levels at 28 × 28';
  for (const field of ['numResBlocks', 'tembDim', 'groups'] as const) if (!isCount(c[field], 1)) return `config.${field} must be a positive integer`;
  if (!isCount(c.numClasses, 0)) return 'config.numClasses must be an integer ≥ 0';
  if (c.attention !== undefined && typeof c.attention !== 'boolean') return 'config.attention must be true or false';
  if (c.crossAttention !== undefined) return 'config.crossAttention: the lab trains U-Nets without a text context';
  const count = countUNetParams(config);
  if (!(count <= MAX_LAB_PARAMS)) {
    return `config (channels ${JSON.stringify(channels)}, numResBlocks ${c.numResBlocks}, tembDim ${c.tembDim}) has ${count} parameters, more than the lab trains (at most ${MAX_LAB_PARAMS})`;
  }
  return null;
}

/** Yield to the worker's message queue (a macrotask, without setTimeout's 4 ms clamp). */
export function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** The training split as one device tensor [N, 28, 28, 1] in [−1, 1], uploaded once per backend. */
let uploaded: { backend: string; tensor: tf.Tensor4D } | null = null;
function datasetTensor(train: Split): tf.Tensor4D {
  const backend = tf.getBackend();
  if (!uploaded || uploaded.backend !== backend || uploaded.tensor.isDisposed) {
    try {
      uploaded?.tensor.dispose();
    } catch {
      /* its backend is gone */
    }
    const tensor = tf.tensor4d(toFloatBatch(train, range(train.count)), [train.count, 28, 28, 1]);
    uploaded = { backend, tensor };
  }
  return uploaded.tensor;
}

/** One lab run: a U-Net, its Adam state, its random stream and its history. */
export class TrainingSession {
  readonly schedule: Schedule;
  readonly config: UNetConfig;
  unet: UNet;
  private trainer: Trainer;
  private rng: Rng;
  step = 0;
  lossHistory: [number, number][] = [];
  elapsedMs = 0;
  /** Noise of the preview grid: fixed, so the reader watches the same noise turn into digits. */
  private readonly previewSeed: number;
  readonly recipe: LabRecipe;

  constructor(
    readonly settings: LabSettings,
    private readonly train: Split,
    config: UNetConfig = LAB_PRESETS[settings.size],
    weights?: Record<string, Float32Array>,
    state?: TrainingState,
    recipe: Omit<LabRecipe, 'config'> = LAB_RECIPES[settings.size],
  ) {
    this.config = config;
    this.recipe = { ...recipe, config };
    this.schedule = makeSchedule(settings.schedule, 1000);
    this.unet = createUNet(config, settings.seed);
    try {
      if (weights) this.unet.setWeights(weights);
    } catch (e) {
      this.unet.dispose();
      throw e;
    }
    this.step = state?.step ?? 0;
    this.lossHistory = state?.lossHistory.map(([s, l]) => [s, l] as [number, number]) ?? [];
    // The batch/noise stream continues deterministically from the step count.
    this.rng = makeRng((settings.seed * 1_000_003 + this.step) >>> 0);
    this.trainer = createTrainer(this.unet, {
      schedule: this.schedule,
      rng: this.rng,
      lr: settings.lr,
      warmupSteps: recipe.warmupSteps,
      minSnrGamma: recipe.minSnrGamma,
      emaDecay: recipe.emaDecay,
    });
    this.previewSeed = settings.seed + 777;
  }

  /** One optimiser step on a batch gathered on the device; returns the loss scalar (caller disposes). */
  private trainStep(data: tf.Tensor4D): tf.Scalar {
    const n = this.settings.batchSize;
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = this.rng.uniformInt(this.train.count);
    const x0 = tf.tidy(() => tf.gather(data, tf.tensor1d(idx, 'int32')) as tf.Tensor4D);
    try {
      return this.trainer.step(x0);
    } finally {
      x0.dispose();
    }
  }

  /**
   * Train until `signal` aborts or `maxSteps` more steps are done. Reports progress every `lossEvery` steps
   * (one async loss read for the whole window) and a fresh sample grid every `sampleEvery` steps.
   */
  async run(opts: {
    signal: AbortSignal;
    onProgress: (p: LabProgress) => void;
    lossEvery?: number;
    sampleEvery?: number;
    maxSteps?: number;
    /** Called before each step with the steps done so far in this run (tests inject faults here). */
    beforeStep?: (done: number) => void;
  }): Promise<void> {
    const lossEvery = Math.max(1, opts.lossEvery ?? 5);
    const sampleEvery = Math.max(0, opts.sampleEvery ?? 100);
    const stopAt = opts.maxSteps !== undefined ? this.step + opts.maxSteps : Infinity;
    const data = datasetTensor(this.train);
    let window: tf.Scalar[] = [];
    let windowStart = performance.now();
    let done = 0;
    const flush = async () => {
      if (window.length === 0) return;
      const summed = tf.tidy(() => tf.addN(window));
      const count = window.length;
      for (const l of window) l.dispose();
      window = [];
      const value = (await summed.data())[0] / count;
      summed.dispose();
      const now = performance.now();
      const ms = now - windowStart;
      windowStart = now;
      this.elapsedMs += ms;
      if (!Number.isFinite(value)) throw new Error(`the loss became ${value}: training diverged; try a lower learning rate`);
      this.lossHistory = appendCapped(this.lossHistory, [this.step, value]);
      const progress: LabProgress = { step: this.step, loss: value, examplesPerSecond: (count * this.settings.batchSize * 1000) / ms, elapsedMs: this.elapsedMs };
      if (sampleEvery > 0 && this.step % sampleEvery < count) {
        progress.samples = await this.samples(16, this.recipe.sampleSteps);
        progress.samplesStep = this.step;
        windowStart = performance.now(); // sampling time is not training time
      }
      opts.onProgress(progress);
    };
    try {
      while (!opts.signal.aborted && this.step < stopAt) {
        opts.beforeStep?.(done);
        window.push(this.trainStep(data));
        this.step++;
        done++;
        if (window.length >= lossEvery) await flush();
        await yieldToEvents();
      }
      await flush();
    } finally {
      for (const l of window) l.dispose();
    }
  }

  /** The network that draws the sample grid: the weights' moving average when the recipe keeps one, else the weights. */
  get sampler(): UNet {
    return this.trainer.ema ?? this.unet;
  }

  /** `count` samples from the current weights (their average, see `sampler`) by a fast deterministic DDIM run (same noise every time). */
  async samples(count: number, steps: number = this.recipe.sampleSteps, net: UNet = this.sampler, sampler: LabRecipe['sampler'] = this.recipe.sampler): Promise<Float32Array> {
    const [h, w, c] = this.config.inputShape;
    const noise = makeNoise(this.previewSeed);
    const xT = noise.normal([count, h, w, c]) as tf.Tensor4D;
    try {
      const x0 = await samplers[sampler](unconditional(net.model), xT, this.schedule, { noise, steps, eta: 0, clipX0: true });
      try {
        return (await x0.data()) as Float32Array;
      } finally {
        x0.dispose();
      }
    } finally {
      xT.dispose();
    }
  }

  /** ε̂ for given images at timestep t (the e2e tests compare predictions before and after a restore). */
  async predict(x: Float32Array, t: number): Promise<Float32Array> {
    const [h, w, c] = this.config.inputShape;
    const n = x.length / (h * w * c);
    const out = tf.tidy(() => this.unet.model(tf.tensor4d(x, [n, h, w, c]), tf.fill([n], t, 'int32') as tf.Tensor1D));
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  }

  /** Everything needed to rebuild this session (float32 weights; Adam's moments are not kept). */
  async checkpoint(): Promise<Checkpoint> {
    const values = await this.unet.getWeights();
    const weights: Checkpoint['weights'] = {};
    for (const [name, v] of this.unet.params) weights[name] = { shape: [...v.shape], data: values[name] };
    const metadata: UNetMetadata = { name: 'training-lab', config: this.config, schedule: { kind: this.schedule.kind, T: this.schedule.T } };
    return {
      metadata,
      weights,
      state: { step: this.step, lossHistory: this.lossHistory, settings: { ...this.settings }, savedAt: new Date().toISOString() },
    };
  }

  /**
   * Rebuild a session from a checkpoint (possibly on another backend) with its clean settings: `settings` as
   * cleaned against lab.create's declaration (never `ck.state.settings`), the schedule and state as
   * decodeCheckpoint checked them; refuses a configuration the lab cannot train (labConfigProblem).
   */
  static fromCheckpoint(ck: Checkpoint, train: Split, settings: LabSettings): TrainingSession {
    const problem = labConfigProblem(ck.metadata.config);
    if (problem) throw new Error(problem);
    const values: Record<string, Float32Array> = {};
    for (const [name, w] of Object.entries(ck.weights)) values[name] = w.data;
    return new TrainingSession({ ...settings, schedule: ck.metadata.schedule.kind }, train, ck.metadata.config, values, ck.state);
  }

  dispose(): void {
    this.trainer.dispose();
    this.unet.dispose();
  }
}

