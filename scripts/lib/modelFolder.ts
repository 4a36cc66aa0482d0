/**
 * What a finished training run leaves in models/<name>/: model.json + weights.bin, config.json, the loss curve,
 * a sample grid and the model card, which can be re-rendered later from those files alone (`--card-only`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { assignWeights, weightsFromTensors } from '../../src/core/io';
import type { MnistData } from '../../src/core/data';
import { SeededRandom } from '../../src/core/data';
import type { Evaluation, JobModel, TrainConfig, TrainJob } from './job';
import { renderModelCard, type EvalRow } from './model-card';
import { encodePng, tileImages } from './png';
import { lossCurveSvg } from './svg';
import { compactJson, loadWeightsFromDir, saveWeightsToDir } from './weights-file';

function machineDescription(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.versions.node}, tfjs ${tf.version_core}`;
}

export interface ExportInfo {
  config: TrainConfig;
  lossHistory: [number, number][];
  elapsedMs: number;
  paramCount: number;
  backend: string;
  command: string;
}

/** Write models/<name>/: model.json + weights.bin, config.json, loss.svg, samples.png, README.md. */
export async function exportModel(
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
    command: info.command,
    evaluation: evaluation.summary,
    lossHistory: info.lossHistory,
  };
  writeFileSync(join(outDir, 'config.json'), compactJson(configJson));
  writeFileSync(join(outDir, 'loss.svg'), lossCurveSvg(info.lossHistory, { title: `${job.title}: training loss` }));
  const grid = await model.samples();
  const tiled = tileImages(grid.images, grid.count, grid.height, grid.width, { cols: grid.cols, scale: grid.scale ?? 2, pad: 2 });
  writeFileSync(join(outDir, 'samples.png'), encodePng(tiled.pixels, tiled.width, tiled.height));
  writeModelCard(outDir, job, {
    config: info.config,
    paramCount: info.paramCount,
    steps: info.config.steps,
    wallTimeSec,
    backend: info.backend,
    machine: configJson.machine,
    command: info.command,
    evaluation,
    samplesCaption: grid.caption,
  });
  return { files: listFiles(outDir), evaluation };
}

/** The files of a model folder with their sizes, sorted by name. */
function listFiles(outDir: string): { name: string; bytes: number }[] {
  return readdirSync(outDir)
    .filter((f) => statSync(join(outDir, f)).isFile())
    .sort()
    .map((name) => ({ name, bytes: statSync(join(outDir, name)).size }));
}

interface CardData {
  config: TrainConfig;
  paramCount: number;
  steps: number;
  wallTimeSec: number;
  backend: string;
  machine: string;
  command: string;
  evaluation: Evaluation;
  samplesCaption?: string;
  /** Markdown kept at the end of the card (e.g. a section `npm run eval` wrote). */
  tail?: string;
}

/** Write <outDir>/README.md from a job's texts and a trained model's data; returns the text. */
function writeModelCard(outDir: string, job: TrainJob, d: CardData): string {
  const card = (files: { name: string; bytes: number }[]) => {
    const text = renderModelCard({
      name: job.name,
      title: job.title,
      summary: job.summary,
      data: job.data,
      architecture: job.architecture(d.config),
      paramCount: d.paramCount,
      config: { ...Object.fromEntries(Object.entries(d.config).filter(([k]) => k !== 'options')), ...d.config.options },
      steps: d.steps,
      wallTimeSec: d.wallTimeSec,
      backend: d.backend,
      machine: d.machine,
      command: d.command,
      evaluation: d.evaluation.rows,
      lossSvg: 'loss.svg',
      samplesImage: 'samples.png',
      samplesCaption: d.samplesCaption,
      files,
      notes: job.notes?.(d.evaluation),
    });
    return d.tail ? `${text.trimEnd()}\n\n${d.tail.trim()}\n` : text;
  };
  // The card lists the folder's files, itself included: write it twice so its own size is right.
  writeFileSync(join(outDir, 'README.md'), card(listFiles(outDir)));
  const text = card(listFiles(outDir));
  writeFileSync(join(outDir, 'README.md'), text);
  return text;
}

/** The `npm run train` command that reproduces a config: the job's defaults plus a flag for every difference. */
export function reproduceCommand(job: TrainJob, config: TrainConfig, outFlag?: string): string {
  const d = job.defaults;
  const parts = ['npm run train --', job.name, '--fresh'];
  const flags: [keyof TrainConfig, string][] = [['steps', '--steps'], ['batchSize', '--batch'], ['learningRate', '--lr'], ['seed', '--seed'], ['checkpointEvery', '--checkpoint-every'], ['logEvery', '--log-every'], ['threads', '--threads']];
  for (const [k, flag] of flags) if (config[k] !== undefined && config[k] !== d[k]) parts.push(flag, String(config[k]));
  for (const [k, v] of Object.entries(config.options)) if (d.options[k] !== v) parts.push('--set', `${k}=${v}`);
  if (outFlag) parts.push('--out', outFlag);
  return parts.join(' ');
}

/** The `<!-- eval:… -->…<!-- /eval:… -->` sections `npm run eval` wrote into a card (kept when the card is re-rendered). */
export function evalSections(card: string): string {
  return [...card.matchAll(/<!-- eval:([a-z0-9-]+) -->[\s\S]*?<!-- \/eval:\1 -->/g)].map((m) => m[0]).join('\n\n');
}

/**
 * Re-render the model card of a trained folder without training (`npm run train -- <name> --card-only`): the job's
 * current texts with the numbers the folder's config.json recorded (config, parameters, steps, wall time, machine,
 * the evaluation summary) and the sections `npm run eval` wrote into the old card. Weights, config.json, loss.svg
 * and samples.png are left as they are. The job must define `evaluationRows`.
 */
export function rewriteModelCard(job: TrainJob, outDir: string, outFlag?: string): string {
  const file = join(outDir, 'config.json');
  if (!existsSync(file)) throw new Error(`${file} does not exist: train ${job.name} first`);
  if (!job.evaluationRows) throw new Error(`${job.name} cannot re-render its card without evaluating: its job defines no evaluationRows`);
  /** config.json as the export wrote it (an older one may lack `command`). */
  const c = JSON.parse(readFileSync(file, 'utf8')) as Omit<CardData, 'command' | 'evaluation' | 'samplesCaption' | 'tail'> & {
    model?: string;
    command?: string;
    evaluation: Record<string, number>;
  };
  if (c.model !== undefined && c.model !== job.name) throw new Error(`${file} belongs to ${c.model}, not ${job.name}`);
  const readme = join(outDir, 'README.md');
  const rows: EvalRow[] = job.evaluationRows(c.evaluation, c.config);
  return writeModelCard(outDir, job, {
    config: c.config,
    paramCount: c.paramCount,
    steps: c.steps,
    wallTimeSec: c.wallTimeSec,
    backend: c.backend,
    machine: c.machine,
    command: c.command ?? reproduceCommand(job, c.config, outFlag),
    evaluation: { rows, summary: c.evaluation },
    samplesCaption: job.samplesCaption?.(c.config),
    tail: existsSync(readme) ? evalSections(readFileSync(readme, 'utf8')) : undefined,
  });
}

/** Whether a models/<name>/ folder already holds an exported model. */
export function hasExportedModel(outDir: string): boolean {
  return existsSync(join(outDir, 'model.json'));
}

/**
 * Re-measure a trained folder without training (`--evaluate-only`): build the job's model from config.json, load the
 * shipped weights into it, run its `evaluate` and `samples`, and write config.json's evaluation, samples.png and the
 * card. For when the evaluation changed after the weights were trained; the weights are not touched.
 */
export async function reevaluateModel(job: TrainJob, outDir: string, data: MnistData, backend: string, outFlag?: string): Promise<Evaluation> {
  const file = join(outDir, 'config.json');
  if (!existsSync(file)) throw new Error(`${file} does not exist: train ${job.name} first`);
  const c = JSON.parse(readFileSync(file, 'utf8')) as { model?: string; config: TrainConfig; evaluation: Record<string, number> };
  if (c.model !== undefined && c.model !== job.name) throw new Error(`${file} belongs to ${c.model}, not ${job.name}`);
  const model = await job.create({ config: c.config, data, rng: new SeededRandom(c.config.seed), backend });
  try {
    assignWeights(model.params, loadWeightsFromDir(outDir).weights, join(outDir, 'model.json'));
    const evaluation = await model.evaluate();
    const grid = await model.samples();
    const tiled = tileImages(grid.images, grid.count, grid.height, grid.width, { cols: grid.cols, scale: grid.scale ?? 2, pad: 2 });
    writeFileSync(join(outDir, 'samples.png'), encodePng(tiled.pixels, tiled.width, tiled.height));
    writeFileSync(file, compactJson({ ...c, evaluation: evaluation.summary }));
    rewriteModelCard(job, outDir, outFlag);
    return evaluation;
  } finally {
    model.dispose();
  }
}
