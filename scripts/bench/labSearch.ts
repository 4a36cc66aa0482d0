/**
 * The recipe search: one candidate recipe for the training lab, trained in Node on wasm by the lab's own
 * TrainingSession (the same loop as the tab, without the page), probed every `--every` steps (16 samples from the
 * lab's fixed x_T with its own sampler, read by classifier-mnist). Measured in steps, which are deterministic given
 * the seeds, so candidates can be compared however loaded the machine is; the CPU time of the training steps
 * (process.cpuUsage, the probes excluded) gives a load-independent ms per step.
 *
 *   node --import tsx scripts/bench/labSearch.ts --base tiny --recipe '{"emaDecay":0.99}' --batch 32 --lr 0.002 --steps 2000 --every 100
 *
 * Prints one JSON line per probe and a summary line; `--record LABEL` also writes the summary into
 * src/widgets/lib/labRecipeSearch.json (the lab's list of what was tried).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { enableTfjsCoreEsm } from '../lib/tfjsNode';

enableTfjsCoreEsm();
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('../../src/core/backends');
const { decodeMnistFile } = await import('../../src/core/data');
const { LAB_RECIPES, TrainingSession } = await import('../../src/workers/trainingSession');
const { loadClassifierFromDir } = await import('../eval/common');
const { confidentCount, heldOutShapes, neededDigits, PROBE, referenceDigits } = await import('./labQuality');

const { encodePng } = await import('../../src/core/png');
/** 16 images as a 4 × 4 grid PNG (for looking at what the classifier read). */
function writeGrid(file: string, images: Float32Array) {
  const px = new Uint8Array(112 * 112);
  for (let k = 0; k < 16; k++)
    for (let i = 0; i < 28; i++)
      for (let j = 0; j < 28; j++) px[(Math.floor(k / 4) * 28 + i) * 112 + (k % 4) * 28 + j] = Math.round(Math.max(0, Math.min(255, (images[k * 784 + i * 28 + j] + 1) * 127.5)));
  writeFileSync(file, encodePng(px, 112, 112));
}
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: a } = parseArgs({
  options: {
    base: { type: 'string', default: 'tiny' },
    recipe: { type: 'string', default: '{}' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '0.002' },
    schedule: { type: 'string', default: 'linear' },
    seed: { type: 'string', default: '1' },
    steps: { type: 'string', default: '2000' },
    every: { type: 'string', default: '100' },
    hits: { type: 'string', default: '1' },
    sampleSteps: { type: 'string' },
    png: { type: 'string' },
    raw: { type: 'boolean' },
    record: { type: 'string' },
  },
});
await initBackend({ order: ['wasm'] });
const { train, test } = await decodeMnistFile(new Uint8Array(readFileSync(join(ROOT, 'public/data/mnist.bin.gz'))));
const clf = loadClassifierFromDir(join(ROOT, 'models', 'classifier-mnist'));
const shapes = heldOutShapes(test);
const base = LAB_RECIPES[a.base as 'tiny' | 'small'];
const over = JSON.parse(a.recipe) as Record<string, unknown>;
const recipe = { ...base, ...over, config: { ...base.config, ...((over.config as object) ?? {}) } };
const settings = { size: a.base as 'tiny' | 'small', batchSize: Number(a.batch), lr: Number(a.lr), schedule: a.schedule as 'linear', seed: Number(a.seed) };
const session = new TrainingSession(settings, train, recipe.config, undefined, undefined, recipe);
const reference = await referenceDigits(tf, ROOT, clf, shapes, settings.seed, recipe.sampleSteps, recipe.sampler);
const needed = neededDigits(reference);
console.log(JSON.stringify({ reference_digits: reference, needed }));
const sampleSteps = (a.sampleSteps ?? '').split(',').filter(Boolean);
const every = Number(a.every);
const total = Number(a.steps);
let cpuMs = 0;
let hits = 0;
let first: number | null = null;
let lastDigits = 0;
let bestDigits = 0;
const signal = new AbortController().signal;
/** Write this run's line into src/widgets/lib/labRecipeSearch.json (after every probe, so a stopped run keeps its figures). */
function record() {
  if (!a.record) return;
  // The lab's "what we tried" list reads these lines.
  const file = join(ROOT, 'src', 'widgets', 'lib', 'labRecipeSearch.json');
  const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>[]) : [];
  const entry = { label: a.record, recipe: over, batch: settings.batchSize, lr: settings.lr, params: session.unet.paramCount(), digits_needed: needed, steps_to_digits: first, steps_run: session.step, digits_at_end: lastDigits, best_digits: bestDigits, cpu_ms_per_step: Math.round(cpuMs / session.step) };
  writeFileSync(file, `${JSON.stringify([...all.filter((e) => e.label !== a.record), entry], null, 1)}\n`);
}
while (session.step < total) {
  const c0 = process.cpuUsage();
  await session.run({ signal, onProgress: () => {}, maxSteps: every, sampleEvery: 0, lossEvery: 5 });
  const c1 = process.cpuUsage(c0);
  cpuMs += (c1.user + c1.system) / 1000;
  const line: Record<string, unknown> = { step: session.step, loss: session.lossHistory.at(-1)?.[1], cpu_ms_per_step: cpuMs / session.step };
  const images = await session.samples(PROBE.count);
  const { confident, digits, classes } = await confidentCount(tf, clf, images, PROBE.count, shapes);
  if (a.png) writeGrid(`${a.png}-${session.step}.png`, images);
  line.confident = confident;
  line.digits = digits;
  lastDigits = digits;
  bestDigits = Math.max(bestDigits, digits);
  line.classes = classes.join('');
  if (a.raw && session.sampler !== session.unet) line.digits_raw = (await confidentCount(tf, clf, await session.samples(PROBE.count, undefined, session.unet), PROBE.count, shapes)).digits;
  for (const spec of sampleSteps) {
    const [name, st] = String(spec).includes(':') ? String(spec).split(':') : ['ddim', String(spec)];
    line[`digits_${name}${st}`] = (await confidentCount(tf, clf, await session.samples(PROBE.count, Number(st), undefined, name as 'ddim'), PROBE.count, shapes)).digits;
  }
  console.log(JSON.stringify(line));
  record();
  if (digits >= needed) {
    first ??= session.step;
    if (++hits >= Number(a.hits)) break;
  }
}
record();
console.log(JSON.stringify({ summary: true, base: a.base, recipe: over, batch: settings.batchSize, lr: settings.lr, schedule: settings.schedule, params: session.unet.paramCount(), steps_to_digits: first, cpu_ms_per_step: cpuMs / session.step }));
session.dispose();
