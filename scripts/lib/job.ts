/**
 * The contract between the training driver (scripts/train.ts → scripts/lib/trainer.ts) and one model's
 * training job. A job is one file, scripts/jobs/<name>.ts, whose default export is a `TrainJob`; the CLI
 * finds it by file name (`npm run train -- <name>`), nothing else needs registering.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { FusedAdam, StepOptions } from '../../src/core/adam';
import type { MnistData, SeededRandom } from '../../src/core/data';
import type { NamedWeights, QuantizationDtype } from '../../src/core/io';
import type { EvalRow } from './model-card';

export type OptionValue = number | string | boolean;

export interface TrainConfig {
  steps: number;
  batchSize: number;
  /** Peak learning rate (see TrainJob.learningRate for the schedule). */
  learningRate: number;
  seed: number;
  /** Save a checkpoint every this many steps. */
  checkpointEvery: number;
  /** Read the (averaged) loss back and record it every this many steps. */
  logEvery: number;
  /** Job-specific settings; the CLI overrides them with `--set key=value`. */
  options: Record<string, OptionValue>;
  /**
   * Threads that share each step's batch (data parallelism, scripts/lib/parallel.ts): 1 (the default) trains in
   * this thread alone; N > 1 splits every batch into N shards whose gradients are averaged. Only jobs whose model
   * has `sharded` can use more than 1. It changes the wall time, not the maths (up to float rounding).
   */
  threads?: number;
}

export interface JobContext {
  readonly config: TrainConfig;
  readonly data: MnistData;
  /** The run's only random stream (batches, augmentation, noise, t); checkpointed, so resuming is exact. */
  readonly rng: SeededRandom;
  /** The tfjs backend the run uses. */
  readonly backend: string;
}

/** Grey images for the model card (uint8, white = 255), tiled `cols` per row. */
export interface SampleGrid {
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
  cols: number;
  /** Markdown caption under the image. */
  caption: string;
  /** Nearest-neighbour upscaling in the PNG (default 2). */
  scale?: number;
}

export interface Evaluation {
  /** The model card's evaluation table. */
  rows: EvalRow[];
  /** Headline numbers, stored in config.json (e.g. { heldOutAccuracy: 0.985 }). */
  summary: Record<string, number>;
}

/** A built model, ready to train. Every tensor it creates belongs to it; `dispose` frees them. */
export interface JobModel {
  /** Trainable variables keyed by saved name: what models/<name>/ ships and checkpoints store. */
  params: Record<string, tf.Variable>;
  /** Non-trained state to checkpoint too (e.g. an EMA copy of the weights), keyed by name. */
  extraState?: Record<string, tf.Variable>;
  /** JSON metadata stored in model.json (everything needed to rebuild the model, e.g. its config). */
  metadata(): Record<string, unknown>;
  /**
   * The loss of training step `step` (0-based), as a scalar. Runs inside optimizer.minimize (a tidy):
   * draw the batch and any noise from ctx.rng here, so a resumed run replays exactly.
   */
  loss(step: number): tf.Scalar;
  /**
   * Optional full step (e.g. with gradient clipping, then an EMA update); returns the loss scalar, which the caller
   * disposes. The optimiser is Adam over `params` (src/core/adam.ts), its learning rate already set for this step.
   */
  trainStep?(step: number, optimizer: FusedAdam): tf.Scalar;
  /**
   * Optional: the step split into shards, so that the trainer can spread one batch over several threads. With
   * it, the trainer runs a step as draw → split → (per thread) loss and gradient → mean gradient → Adam →
   * afterStep, and does not call `loss` or `trainStep`; a job that has it should define trainStep the same way.
   */
  sharded?: ShardedStep;
  /** Weights to ship (default: `params`), e.g. the EMA weights. */
  exportWeights?(): Promise<NamedWeights>;
  evaluate(): Promise<Evaluation>;
  samples(): Promise<SampleGrid>;
  dispose(): void;
}

/** One step's random draws (batch indices, noise, …) as plain typed arrays, so they can be posted to a thread. */
export type Shard = Record<string, Int32Array | Float32Array | Uint8Array | undefined>;

export interface ShardedStep {
  /** Draw step `step`'s whole batch from ctx.rng, in the order the unsplit loss draws it (so a resume replays). */
  draw(step: number): Shard;
  /** Split a draw into `parts` shards of equal size along the batch (the trainer makes the batch a multiple of `parts`). */
  split(draw: Shard, parts: number): Shard[];
  /** The mean loss over one shard's examples; runs inside tf.variableGrads (a tidy). */
  loss(shard: Shard): tf.Scalar;
  /** Options of the Adam step (e.g. global-norm clipping). */
  stepOptions?: StepOptions;
  /** After the Adam step (e.g. an EMA update). */
  afterStep?(step: number): void;
}

export interface TrainJob {
  /** Same as the file name and the models/<name>/ folder. */
  name: string;
  title: string;
  /** Model card: one paragraph on what the model is for. */
  summary: string;
  /** Model card: the training data (markdown). */
  data: string;
  /** Model card: the architecture (markdown) for a config. */
  architecture(config: TrainConfig): string;
  defaults: TrainConfig;
  /** Where the finished model goes, relative to the repository (default `models/<name>`); `--out` overrides it. */
  outDir?: string;
  /** How shipped weights are stored (checkpoints are always float32). Default float16. */
  quantize?: QuantizationDtype | null;
  /** Weights smaller than this stay float32 when quantising (default 1024). */
  minQuantizeSize?: number;
  /** Learning rate at `step` (default: constant config.learningRate). */
  learningRate?(step: number, config: TrainConfig): number;
  /** Extra markdown appended to the model card. */
  notes?(evaluation: Evaluation): string;
  /**
   * The card's evaluation table from the summary that config.json stores (what `evaluate` measured). With it and
   * `samplesCaption`, `npm run train -- <name> --card-only` re-renders the card of a trained folder without training.
   */
  evaluationRows?(summary: Record<string, number>, config: TrainConfig): EvalRow[];
  /** The caption under the card's sample grid (the grid's own caption when `samples` ran). */
  samplesCaption?(config: TrainConfig): string;
  create(ctx: JobContext): JobModel | Promise<JobModel>;
}

/** Weights to write from a job model. */
export type { NamedWeights };
