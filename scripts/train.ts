/**
 * Train a model: `npm run train -- <model> [options]` (node --import tsx scripts/train.ts …).
 * A model is a job file scripts/jobs/<model>.ts (see scripts/lib/job.ts); run with --list to see them.
 *
 *   --steps N              total steps (on --resume: extend or shorten the run)
 *   --batch N, --lr X, --seed N, --checkpoint-every N, --log-every N
 *   --threads N            split each batch over N threads (data parallelism; jobs with a sharded step, e.g.
 *                          unet-mnist); the batch must be a multiple of N; may change on --resume
 *   --set key=value        job-specific option (repeatable), e.g. --set features=128
 *   --resume               continue from .cache/checkpoints/<model>/
 *   --fresh                discard that checkpoint and start over
 *   --checkpoint-dir DIR   keep checkpoints in DIR instead (two runs of one model side by side)
 *   --backend wasm|cpu     tfjs backend (default: wasm, else cpu)
 *   --out DIR              where the finished model goes (default models/<model>, or the job's outDir); --no-export to skip
 *   --card-only            train nothing: re-render the model card (README.md) of the trained folder (default folder or
 *                          --out) from its config.json and the job's current texts, keeping what `npm run eval` wrote
 *   --evaluate-only        train nothing: re-run the job's evaluation and sample grid on the trained folder's weights and
 *                          rewrite its config.json evaluation, samples.png and card (the weights stay as they are)
 *   --list                 list the available jobs
 *
 * Ctrl-C stops at the next step boundary after writing a checkpoint (a second Ctrl-C quits at once).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { enableTfjsCoreEsm } from './lib/tfjsNode';
import { parseSet } from './lib/cli';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const JOBS_DIR = join(ROOT, 'scripts', 'jobs');

/** Job names = the .ts files of scripts/jobs (files starting with '_' are helpers, not jobs). */
export function listJobs(): string[] {
  if (!existsSync(JOBS_DIR)) return [];
  return readdirSync(JOBS_DIR)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** The folder a job exports to when no --out is given: its `outDir`, else models/<name>. */
export function defaultOutDir(job: import('./lib/job').TrainJob): string {
  return resolve(ROOT, job.outDir ?? join('models', job.name));
}

/** file: URL of a job's module (the data-parallel helper threads import it). */
export function jobModuleUrl(name: string): string {
  return pathToFileURL(join(JOBS_DIR, `${name}.ts`)).href;
}

export async function loadJob(name: string): Promise<import('./lib/job').TrainJob> {
  const available = listJobs();
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !available.includes(name)) {
    throw new Error(`unknown model "${name}"; available: ${available.join(', ') || '(none)'}`);
  }
  // Before any job module loads: a job that imports src/core/train.ts needs tfjs-core's ESM gradients.
  enableTfjsCoreEsm();
  const mod = (await import(jobModuleUrl(name))) as { default?: import('./lib/job').TrainJob };
  if (!mod.default || mod.default.name !== name) throw new Error(`scripts/jobs/${name}.ts must default-export a TrainJob named "${name}"`);
  return mod.default;
}

const num = (flag: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${flag} expects a number, got "${v}"`);
  return n;
};


async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      'log-every': { type: 'string' },
      threads: { type: 'string' },
      set: { type: 'string', multiple: true },
      resume: { type: 'boolean' },
      fresh: { type: 'boolean' },
      'checkpoint-dir': { type: 'string' },
      backend: { type: 'string' },
      out: { type: 'string' },
      'no-export': { type: 'boolean' },
      'card-only': { type: 'boolean' },
      'evaluate-only': { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^\/\*\*?|^ \* ?/gm, '') + '\n');
    return 0;
  }
  if (values.list) {
    for (const name of listJobs()) {
      const job = await loadJob(name);
      process.stdout.write(`${name.padEnd(20)} ${job.title} (${job.defaults.steps} steps)\n`);
    }
    return 0;
  }
  const name = positionals[0];
  if (!name) throw new Error(`which model? usage: npm run train -- <model> [--steps N] [--resume|--fresh] …; available: ${listJobs().join(', ')}`);
  if (values.resume && values.fresh) throw new Error('--resume and --fresh contradict each other');
  const job = await loadJob(name);
  if (values['card-only']) {
    const { rewriteModelCard } = await import('./lib/modelFolder');
    const dir = values.out ? resolve(values.out) : defaultOutDir(job);
    rewriteModelCard(job, dir, values.out ? relative(ROOT, dir) : undefined);
    process.stderr.write(`${name}: rewrote ${relative(process.cwd(), join(dir, 'README.md'))} (no training)\n`);
    return 0;
  }

  // Gradients: tfjs-core's Node bundle lacks them; load its ESM gradient registrations through the hook.
  enableTfjsCoreEsm();
  await import('../src/core/nn/registerGradients');
  const { initBackend } = await import('../src/core/backends');
  const { runTraining } = await import('./lib/trainer');
  const { ProgressBar } = await import('./lib/progress');
  const { decodeMnistFile } = await import('../src/core/data');
  const { DATA_FILE, prepareData } = await import('./prepare-data');

  const requested = values.backend;
  if (requested && requested !== 'wasm' && requested !== 'cpu') throw new Error(`--backend must be wasm or cpu in Node, got ${requested}`);
  const backend = await initBackend({ order: requested ? [requested as 'wasm' | 'cpu'] : ['wasm', 'cpu'] });
  prepareData({ log: (s) => process.stderr.write(s + '\n') });
  const data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)), DATA_FILE);

  if (values['evaluate-only']) {
    const { reevaluateModel } = await import('./lib/modelFolder');
    const dir = values.out ? resolve(values.out) : defaultOutDir(job);
    const ev = await reevaluateModel(job, dir, data, backend, values.out ? relative(ROOT, dir) : undefined);
    for (const [k, v] of Object.entries(ev.summary)) process.stderr.write(`  ${k}: ${v}\n`);
    process.stderr.write(`${name}: re-evaluated ${relative(process.cwd(), dir)} (no training)\n`);
    return 0;
  }

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping after this step (checkpointing); Ctrl-C again to quit now\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  const progress = new ProgressBar(process.stderr);
  const outDir = values['no-export'] ? null : (values.out ? resolve(values.out) : defaultOutDir(job));
  const result = await runTraining({
    job,
    data,
    backend,
    checkpointDir: resolve(values['checkpoint-dir'] ?? join(ROOT, '.cache', 'checkpoints', name)),
    outDir,
    jobModule: jobModuleUrl(name),
    resume: values.resume,
    fresh: values.fresh,
    overrides: {
      steps: num('steps', values.steps),
      batchSize: num('batch', values.batch),
      learningRate: num('lr', values.lr),
      seed: num('seed', values.seed),
      checkpointEvery: num('checkpoint-every', values['checkpoint-every']),
      logEvery: num('log-every', values['log-every']),
      threads: num('threads', values.threads),
      options: values.set ? parseSet(values.set) : undefined,
    },
    // The card's "Reproduce with": a resumed run is reproduced by a fresh one of the same length (its card's run
    // history says when a resume changed the length, which re-times the learning-rate decay).
    command: `npm run train -- ${argv.map((a) => (a === '--resume' ? '--fresh' : a)).join(' ')}`.trim(),
    progress,
    log: (s) => progress.log(s),
    signal: controller.signal,
  });
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigint);
  const secs = (result.elapsedMs / 1000).toFixed(1);
  if (!result.completed) {
    process.stderr.write(`${name}: stopped at step ${result.step}/${result.config.steps} after ${secs} s of training\n`);
    return 130;
  }
  process.stderr.write(`${name}: ${result.step} steps, ${secs} s of training on ${backend}, ${result.paramCount} parameters\n`);
  if (result.evaluation) {
    for (const [k, v] of Object.entries(result.evaluation.summary)) process.stderr.write(`  ${k}: ${Number(v.toPrecision(5))}\n`);
  }
  if (result.files && outDir) {
    const total = result.files.reduce((s, f) => s + f.bytes, 0);
    process.stderr.write(`wrote ${relative(process.cwd(), outDir) || '.'}/: ${result.files.map((f) => `${f.name} (${f.bytes} B)`).join(', ')}; ${total} bytes in all\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`train: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
