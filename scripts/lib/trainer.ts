/**
 * Node-only training driver: builds a job's model, trains it with checkpoints and exact resume, and writes
 * models/<name>/ through modelFolder.ts (weights, config.json, loss curve, sample grid, model card). The CLI is
 * scripts/train.ts.
 * Gradients must be registered before this runs (src/core/nn/registerGradients.ts).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { FusedAdam } from '../../src/core/adam';
import { SeededRandom, type MnistData } from '../../src/core/data';
import { assignWeights, countParams, weightsFromTensors, type NamedWeights } from '../../src/core/io';
import { flatGradient, flatValues, GradientPool } from './parallel';
import { deleteCheckpoint, loadCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint';
import type { Evaluation, JobModel, OptionValue, TrainConfig, TrainJob } from './job';
import { exportModel } from './modelFolder';
import { ProgressBar } from './progress';

export type ConfigOverrides = Partial<Omit<TrainConfig, 'options'>> & { options?: Record<string, OptionValue> };

export interface RunOptions {
  job: TrainJob;
  data: MnistData;
  /** Name of the active tfjs backend (for the record; the caller initialises it). */
  backend: string;
  /** Checkpoint folder, e.g. .cache/checkpoints/<name>. */
  checkpointDir: string;
  /** Where to write the finished model (e.g. models/<name>); null to skip the export. */
  outDir: string | null;
  overrides?: ConfigOverrides;
  /** Continue from the checkpoint in checkpointDir (an error if one exists and neither flag is given). */
  resume?: boolean;
  /** Delete any checkpoint and start from step 0. */
  fresh?: boolean;
  /** The command line, for the model card. */
  command?: string;
  progress?: ProgressBar | null;
  log?: (message: string) => void;
  /** Abort between steps: checkpoint, then return with completed = false. */
  signal?: AbortSignal;
  /** Stop (with a checkpoint) after this many steps in this session, as if interrupted. */
  maxSessionSteps?: number;
  /** file: URL of the job's module; needed when config.threads > 1 (each helper thread imports it). */
  jobModule?: string;
}

export interface RunResult {
  step: number;
  completed: boolean;
  config: TrainConfig;
  lossHistory: [number, number][];
  elapsedMs: number;
  paramCount: number;
  evaluation?: Evaluation;
  files?: { name: string; bytes: number }[];
}

/** Defaults ← overrides (options merged key by key); checks the numbers. */
export function resolveConfig(defaults: TrainConfig, overrides: ConfigOverrides = {}): TrainConfig {
  const { options, ...rest } = overrides;
  const config: TrainConfig = { ...defaults, ...stripUndefined(rest), options: { ...defaults.options, ...options } };
  for (const k of ['steps', 'batchSize', 'checkpointEvery', 'logEvery'] as const) {
    if (!Number.isInteger(config[k]) || config[k] < 1) throw new Error(`config.${k} must be a positive integer, got ${config[k]}`);
  }
  if (config.threads !== undefined && (!Number.isInteger(config.threads) || config.threads < 1)) throw new Error(`config.threads must be a positive integer, got ${config.threads}`);
  if ((config.threads ?? 1) > 1 && config.batchSize % config.threads! !== 0) throw new Error(`config.batchSize (${config.batchSize}) must be a multiple of config.threads (${config.threads}): every thread takes an equal shard`);
  if (!(config.learningRate > 0)) throw new Error(`config.learningRate must be positive, got ${config.learningRate}`);
  return config;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The optimiser's state as named weights: `iter` and, per parameter, Adam's moments `m/<param>` and `v/<param>`
 * (slices of FusedAdam's flat vectors). Checkpoints written by tf.train.adam (before the trainer used FusedAdam)
 * have the same keys plus `accBeta1`/`accBeta2`, which the step count makes redundant; they resume too.
 */
async function optimizerState(opt: FusedAdam, keys: readonly string[], params: Record<string, tf.Variable>): Promise<NamedWeights> {
  const { iterations, m, v } = await opt.getState();
  const out: NamedWeights = { iter: { shape: [], data: Float32Array.of(iterations) } };
  for (const [slot, flat] of [['m', m], ['v', v]] as const) {
    let at = 0;
    for (const k of keys) {
      const n = params[k].size;
      out[`${slot}/${k}`] = { shape: [...params[k].shape], data: flat.slice(at, at + n) };
      at += n;
    }
  }
  return out;
}

function restoreOptimizer(opt: FusedAdam, keys: readonly string[], params: Record<string, tf.Variable>, state: NamedWeights, where: string): void {
  const total = keys.reduce((n, k) => n + params[k].size, 0);
  const flat = { m: new Float32Array(total), v: new Float32Array(total) };
  for (const slot of ['m', 'v'] as const) {
    let at = 0;
    for (const k of keys) {
      const w = state[`${slot}/${k}`];
      if (!w) throw new Error(`${where}: the optimiser state lacks ${slot}/${k}`);
      if (w.data.length !== params[k].size) throw new Error(`${where}: ${slot}/${k} has ${w.data.length} values, the parameter ${params[k].size}`);
      flat[slot].set(w.data, at);
      at += w.data.length;
    }
  }
  opt.setState({ iterations: Math.round(state.iter?.data[0] ?? 0), ...flat });
}

const round = (v: number) => Number(v.toPrecision(5));


/** Train `opts.job` to `config.steps`, checkpointing; then (if completed) export the model. */
export async function runTraining(opts: RunOptions): Promise<RunResult> {
  const { job, checkpointDir } = opts;
  const log = opts.log ?? (() => {});
  let ckpt: CheckpointState | null = null;
  if (opts.fresh) deleteCheckpoint(checkpointDir);
  else {
    ckpt = loadCheckpoint(checkpointDir);
    if (ckpt && !opts.resume) {
      throw new Error(`a checkpoint of ${job.name} at step ${ckpt.step} exists in ${checkpointDir}: pass --resume to continue it or --fresh to start over`);
    }
    if (ckpt && ckpt.job !== job.name) throw new Error(`${checkpointDir} holds a checkpoint of ${ckpt.job}, not ${job.name}`);
  }
  let config: TrainConfig;
  if (ckpt) {
    // The length and the thread count may change on resume (threads change the wall time, not the maths).
    config = resolveConfig(ckpt.config, { steps: opts.overrides?.steps, threads: opts.overrides?.threads });
    const ignored = Object.entries(opts.overrides ?? {}).filter(([k, v]) => k !== 'steps' && k !== 'threads' && v !== undefined);
    if (ignored.length) log(`resuming: keeping the checkpoint's settings; ignored ${ignored.map(([k]) => k).join(', ')}`);
  } else config = resolveConfig(job.defaults, opts.overrides);

  const rng = new SeededRandom(config.seed);
  const model: JobModel = await job.create({ config, data: opts.data, rng, backend: opts.backend });
  const keys = Object.keys(model.params);
  const opt = new FusedAdam(keys.map((k) => model.params[k]), { lr: config.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
  const lrAt = (step: number) => job.learningRate?.(step, config) ?? config.learningRate;
  let step = 0;
  let lossHistory: [number, number][] = [];
  let priorMs = 0;
  if (ckpt) {
    assignWeights(model.params, ckpt.params, `${checkpointDir} (params)`);
    if (model.extraState) assignWeights(model.extraState, ckpt.extra, `${checkpointDir} (extra state)`);
    restoreOptimizer(opt, keys, model.params, ckpt.optimizer, `${checkpointDir} (optimizer)`);
    rng.state = ckpt.rngState;
    step = ckpt.step;
    lossHistory = ckpt.lossHistory;
    priorMs = ckpt.elapsedMs;
    log(`resumed ${job.name} from step ${step} (${checkpointDir})`);
  }
  const paramCount = countParams(model.params);
  const threads = config.threads ?? 1;
  const vars = keys.map((k) => model.params[k]);
  let pool: GradientPool | null = null;
  if (threads > 1) {
    try {
      if (!model.sharded) throw new Error(`${job.name} cannot train on ${threads} threads: its model has no sharded step (TrainJob docs in scripts/lib/job.ts)`);
      if (!opts.jobModule) throw new Error(`threads = ${threads} needs the job's module URL (RunOptions.jobModule)`);
      log(`starting ${threads - 1} helper thread${threads > 2 ? 's' : ''} (a batch of ${config.batchSize} in ${threads} shards of ${config.batchSize / threads})`);
      pool = await GradientPool.start(threads - 1, { jobModule: opts.jobModule, config, data: opts.data, backend: opts.backend }, opt.size);
    } catch (e) {
      opt.dispose();
      model.dispose();
      throw e;
    }
  }
  /** One step with the batch split over this thread and the pool's (see parallel.ts); returns the mean loss. */
  const shardedStep = async (p: GradientPool, step: number): Promise<tf.Scalar> => {
    const s = model.sharded!;
    const shards = s.split(s.draw(step), threads);
    if (shards.length !== threads) throw new Error(`${job.name}: split gave ${shards.length} shards for ${threads} threads`);
    const remote = p.compute(await flatValues(vars), shards.slice(1));
    const local = flatGradient(() => s.loss(shards[0]), vars);
    try {
      const results = await remote;
      const loss = tf.tidy(() => {
        const sum = results.reduce<tf.Tensor1D>((g, r) => tf.add(g, tf.tensor1d(r.grad)), local.grad);
        opt.applyFlatGradient(tf.div(sum, threads), s.stepOptions);
        return tf.div(tf.add(local.value, results.reduce((a, r) => a + r.loss, 0)), threads) as tf.Scalar;
      });
      s.afterStep?.(step);
      return loss;
    } finally {
      local.value.dispose();
      local.grad.dispose();
    }
  };

  const sessionStart = performance.now();
  let sessionSteps = 0;
  let latestLoss = lossHistory.length ? lossHistory[lossHistory.length - 1][1] : undefined;
  let lossSum: tf.Scalar | null = null;
  let pending = 0;
  const elapsed = () => priorMs + performance.now() - sessionStart;

  const flushLoss = async () => {
    if (!lossSum || pending === 0) return;
    const v = (await lossSum.data())[0] / pending;
    lossSum.dispose();
    lossSum = null;
    pending = 0;
    if (!Number.isFinite(v)) throw new Error(`${job.name}: the loss became ${v} by step ${step}; the last checkpoint in ${checkpointDir} is kept`);
    lossHistory.push([step, round(v)]);
    latestLoss = v;
  };
  const checkpoint = async () => {
    saveCheckpoint(checkpointDir, {
      job: job.name,
      step,
      rngState: rng.state,
      config,
      lossHistory,
      elapsedMs: elapsed(),
      backend: opts.backend,
      params: await weightsFromTensors(model.params),
      optimizer: await optimizerState(opt, keys, model.params),
      extra: model.extraState ? await weightsFromTensors(model.extraState) : {},
    });
  };
  const progressState = () => ({ step, total: config.steps, loss: latestLoss, elapsedMs: performance.now() - sessionStart, sessionSteps, priorMs });

  let lastDraw = 0;
  try {
    while (step < config.steps) {
      if (opts.signal?.aborted || (opts.maxSessionSteps !== undefined && sessionSteps >= opts.maxSessionSteps)) break;
      opt.learningRate = lrAt(step);
      const loss = pool ? await shardedStep(pool, step) : model.trainStep ? model.trainStep(step, opt) : opt.minimize(() => model.loss(step));
      const prev: tf.Scalar | null = lossSum;
      lossSum = prev ? tf.tidy(() => tf.add(prev, loss) as tf.Scalar) : tf.clone(loss);
      prev?.dispose();
      loss.dispose();
      step++;
      sessionSteps++;
      pending++;
      if (step % config.logEvery === 0 || step === config.steps) await flushLoss();
      if (step % config.checkpointEvery === 0 && step < config.steps) await checkpoint();
      if (opts.progress && performance.now() - lastDraw > 100) {
        opts.progress.update(progressState());
        lastDraw = performance.now();
      }
      await new Promise((r) => setImmediate(r)); // let signal handlers run between steps
    }
    await flushLoss();
    opts.progress?.done(progressState());
    const completed = step >= config.steps;
    if (sessionSteps > 0 || !ckpt) await checkpoint();
    const elapsedMs = elapsed();
    if (!completed) {
      log(`stopped at step ${step}/${config.steps}; checkpoint saved to ${checkpointDir} (continue with --resume)`);
      return { step, completed, config, lossHistory, elapsedMs, paramCount };
    }
    if (!opts.outDir) return { step, completed, config, lossHistory, elapsedMs, paramCount };
    log('evaluating…');
    const { files, evaluation } = await exportModel(opts.outDir, job, model, {
      config,
      lossHistory,
      elapsedMs,
      paramCount,
      backend: ckpt?.backend && ckpt.backend !== opts.backend ? `${ckpt.backend} then ${opts.backend}` : opts.backend,
      command: opts.command ?? `npm run train -- ${job.name}`,
    });
    return { step, completed, config, lossHistory, elapsedMs, paramCount, evaluation, files };
  } finally {
    await (pool as GradientPool | null)?.close();
    (lossSum as tf.Scalar | null)?.dispose();
    opt.dispose();
    model.dispose();
  }
}
