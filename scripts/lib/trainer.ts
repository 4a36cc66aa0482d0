/**
 * Node-only training driver: builds a job's model, trains it with checkpoints and exact resume, and writes
 * models/<name>/ (weights, config.json, loss curve, sample grid, model card). The CLI is scripts/train.ts.
 * Gradients must be registered before this runs (src/core/nn/registerGradients.ts).
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom, type MnistData } from '../../src/core/data';
import { assignWeights, countParams, weightsFromTensors, type NamedWeights } from '../../src/core/io';
import { deleteCheckpoint, loadCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint';
import type { Evaluation, JobModel, OptionValue, TrainConfig, TrainJob } from './job';
import { renderModelCard } from './model-card';
import { encodePng, tileImages } from './png';
import { ProgressBar } from './progress';
import { lossCurveSvg } from './svg';
import { compactJson, loadWeightsFromDir, saveWeightsToDir } from './weights-file';

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
  if (!(config.learningRate > 0)) throw new Error(`config.learningRate must be positive, got ${config.learningRate}`);
  return config;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

type AdamInternals = { accBeta1?: tf.Variable; accBeta2?: tf.Variable; learningRate?: number };

/** The optimiser's slots keyed by parameter name (`m/conv1/kernel`, …), plus `iter` and Adam's β powers. */
async function optimizerState(opt: tf.Optimizer, params: Record<string, tf.Variable>): Promise<NamedWeights> {
  const keyOf = new Map(Object.entries(params).map(([k, v]) => [v.name, k]));
  const out: NamedWeights = {};
  for (const { name, tensor } of await opt.getWeights()) {
    if (name === 'iter') {
      out.iter = { shape: [], data: Float32Array.of((await tensor.data())[0]) };
      tensor.dispose(); // a fresh scalar made by saveIterations()
      continue;
    }
    const slash = name.lastIndexOf('/');
    out[`${name.slice(slash + 1)}/${keyOf.get(name.slice(0, slash)) ?? name.slice(0, slash)}`] = {
      shape: [...tensor.shape],
      data: Float32Array.from(await tensor.data()),
    };
  }
  const adam = opt as unknown as AdamInternals;
  for (const k of ['accBeta1', 'accBeta2'] as const) {
    const v = adam[k];
    if (v instanceof tf.Variable) out[k] = { shape: [], data: Float32Array.from(await v.data()) };
  }
  return out;
}

async function restoreOptimizer(opt: tf.Optimizer, params: Record<string, tf.Variable>, state: NamedWeights): Promise<void> {
  const list: { name: string; tensor: tf.Tensor }[] = [];
  for (const [key, w] of Object.entries(state)) {
    if (key === 'accBeta1' || key === 'accBeta2') continue;
    if (key === 'iter') {
      list.push({ name: 'iter', tensor: tf.scalar(w.data[0], 'int32') });
      continue;
    }
    const slash = key.indexOf('/');
    const param = key.slice(slash + 1);
    list.push({ name: `${params[param]?.name ?? param}/${key.slice(0, slash)}`, tensor: tf.tensor(w.data, [...w.shape]) });
  }
  if (list.length) await opt.setWeights(list);
  for (const { tensor } of list) tensor.dispose();
  const adam = opt as unknown as AdamInternals;
  for (const k of ['accBeta1', 'accBeta2'] as const) {
    const v = adam[k];
    if (state[k] && v instanceof tf.Variable) v.assign(tf.scalar(state[k].data[0]));
  }
}

function machineDescription(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.versions.node}, tfjs ${tf.version_core}`;
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
    config = resolveConfig(ckpt.config, { steps: opts.overrides?.steps });
    const ignored = Object.entries(opts.overrides ?? {}).filter(([k, v]) => k !== 'steps' && v !== undefined);
    if (ignored.length) log(`resuming: keeping the checkpoint's settings; ignored ${ignored.map(([k]) => k).join(', ')}`);
  } else config = resolveConfig(job.defaults, opts.overrides);

  const rng = new SeededRandom(config.seed);
  const model: JobModel = await job.create({ config, data: opts.data, rng, backend: opts.backend });
  const opt = job.optimizer?.(config) ?? tf.train.adam(config.learningRate, 0.9, 0.999, 1e-8);
  const keys = Object.keys(model.params);
  const varList = keys.map((k) => model.params[k]);
  const lrAt = (step: number) => job.learningRate?.(step, config) ?? config.learningRate;
  let step = 0;
  let lossHistory: [number, number][] = [];
  let priorMs = 0;
  if (ckpt) {
    assignWeights(model.params, ckpt.params, `${checkpointDir} (params)`);
    if (model.extraState) assignWeights(model.extraState, ckpt.extra, `${checkpointDir} (extra state)`);
    await restoreOptimizer(opt, model.params, ckpt.optimizer);
    rng.state = ckpt.rngState;
    step = ckpt.step;
    lossHistory = ckpt.lossHistory;
    priorMs = ckpt.elapsedMs;
    log(`resumed ${job.name} from step ${step} (${checkpointDir})`);
  }
  const paramCount = countParams(model.params);

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
      optimizer: await optimizerState(opt, model.params),
      extra: model.extraState ? await weightsFromTensors(model.extraState) : {},
    });
  };
  const progressState = () => ({ step, total: config.steps, loss: latestLoss, elapsedMs: performance.now() - sessionStart, sessionSteps, priorMs });

  let lastDraw = 0;
  try {
    while (step < config.steps) {
      if (opts.signal?.aborted || (opts.maxSessionSteps !== undefined && sessionSteps >= opts.maxSessionSteps)) break;
      const lr = lrAt(step);
      if ('learningRate' in opt) (opt as unknown as AdamInternals).learningRate = lr;
      const loss = model.trainStep ? model.trainStep(step, opt) : opt.minimize(() => model.loss(step), true, varList)!;
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
    (lossSum as tf.Scalar | null)?.dispose();
    opt.dispose();
    model.dispose();
  }
}

interface ExportInfo {
  config: TrainConfig;
  lossHistory: [number, number][];
  elapsedMs: number;
  paramCount: number;
  backend: string;
  command: string;
}

/** Write models/<name>/: model.json + weights.bin, config.json, loss.svg, samples.png, README.md. */
async function exportModel(
  outDir: string,
  job: TrainJob,
  model: JobModel,
  info: ExportInfo,
): Promise<{ files: { name: string; bytes: number }[]; evaluation: Evaluation }> {
  mkdirSync(outDir, { recursive: true });
  const weights = model.exportWeights ? await model.exportWeights() : await weightsFromTensors(model.params);
  const metadata = { model: job.name, ...model.metadata() };
  saveWeightsToDir(outDir, weights, {
    metadata,
    quantize: job.quantize === undefined ? 'float16' : job.quantize,
    minQuantizeSize: job.minQuantizeSize ?? 1024,
  });
  // Evaluate exactly what ships: read the (quantised) file back into the model before evaluating.
  if (!model.exportWeights) assignWeights(model.params, loadWeightsFromDir(outDir).weights, join(outDir, 'model.json'));
  const evaluation = await model.evaluate();
  const wallTimeSec = Math.round(info.elapsedMs / 100) / 10;
  const configJson = {
    model: job.name,
    title: job.title,
    config: info.config,
    metadata,
    steps: info.config.steps,
    paramCount: info.paramCount,
    backend: info.backend,
    wallTimeSec,
    machine: machineDescription(),
    evaluation: evaluation.summary,
    lossHistory: info.lossHistory,
  };
  writeFileSync(join(outDir, 'config.json'), compactJson(configJson));
  writeFileSync(join(outDir, 'loss.svg'), lossCurveSvg(info.lossHistory, { title: `${job.title}: training loss` }));
  const grid = await model.samples();
  const tiled = tileImages(grid.images, grid.count, grid.height, grid.width, { cols: grid.cols, scale: grid.scale ?? 2, pad: 2 });
  writeFileSync(join(outDir, 'samples.png'), encodePng(tiled.pixels, tiled.width, tiled.height));
  const listFiles = () =>
    readdirSync(outDir)
      .filter((f) => statSync(join(outDir, f)).isFile())
      .sort()
      .map((name) => ({ name, bytes: statSync(join(outDir, name)).size }));
  const card = (files: { name: string; bytes: number }[]) =>
    renderModelCard({
      name: job.name,
      title: job.title,
      summary: job.summary,
      data: job.data,
      architecture: job.architecture(info.config),
      paramCount: info.paramCount,
      config: { ...Object.fromEntries(Object.entries(info.config).filter(([k]) => k !== 'options')), ...info.config.options },
      steps: info.config.steps,
      wallTimeSec,
      backend: info.backend,
      machine: machineDescription(),
      command: info.command,
      evaluation: evaluation.rows,
      lossSvg: 'loss.svg',
      samplesImage: 'samples.png',
      samplesCaption: grid.caption,
      files,
      notes: job.notes?.(evaluation),
    });
  // The card lists the folder's files, itself included: write it twice so its own size is right.
  writeFileSync(join(outDir, 'README.md'), card(listFiles()));
  writeFileSync(join(outDir, 'README.md'), card(listFiles()));
  return { files: listFiles(), evaluation };
}

/** Whether a models/<name>/ folder already holds an exported model. */
export function hasExportedModel(outDir: string): boolean {
  return existsSync(join(outDir, 'model.json'));
}
