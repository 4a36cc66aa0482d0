/**
 * The 2-D flow playground on wasm in Node (src/core/flow2d.ts), not a timed test:
 *
 * 1. training time: both networks trained side by side on a preset (default two moons); every `--every` steps the
 *    energy distance of 500 samples (flow: Euler, diffusion: DDIM, 100 steps each) to the 1,000 reference points
 *    and the wall time spent training so far (measuring excluded);
 * 2. reflow: the energy distance of 1-step flow samples before and after one reflow round (pairs by 50 Heun steps,
 *    then `--reflow-steps` more steps on the pairs), and the 100-step distance after it.
 *
 *   node --import tsx scripts/bench/flow2d.ts [--preset=moons] [--steps=1000] [--every=250] [--reflow-steps=1000] [--seed=1] [--fresh]
 *
 * `--fresh`: the reflowed flow starts from new weights instead of the trained flow's.
 *
 * Results: a table on stdout and bench/results/flow2d.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { enableTfjsCoreEsm } from '../lib/tfjsNode';

enableTfjsCoreEsm();
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-wasm');
const { FlowPlayground, PRESETS, sampleTarget } = await import('../../src/core/flow2d');
const { energyDistance } = await import('../../src/core/flowMetrics');

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'moons' },
    steps: { type: 'string', default: '1000' },
    every: { type: 'string', default: '250' },
    'reflow-steps': { type: 'string', default: '1000' },
    'reflow-pairs': { type: 'string', default: '4000' },
    seed: { type: 'string', default: '1' },
    fresh: { type: 'boolean' },
    'no-write': { type: 'boolean' },
  },
});
const preset = values.preset as (typeof PRESETS)[number];
if (!PRESETS.includes(preset)) throw new Error(`--preset must be one of ${PRESETS.join(', ')}`);
const steps = Number(values.steps);
const every = Number(values.every);
const reflowSteps = Number(values['reflow-steps']);
const seed = Number(values.seed);

if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed');
await tf.ready();

const pg = new FlowPlayground({ preset, seed });
const SAMPLES = 500;

async function train(k: number): Promise<{ ms: number; diffusion: number; flow: number }> {
  const t0 = performance.now();
  let last = { diffusion: NaN, flow: NaN };
  for (let i = 0; i < k; i++) {
    const l = pg.tick();
    if (i === k - 1) last = { diffusion: (await l.diffusion.data())[0], flow: (await l.flow.data())[0] };
    l.diffusion.dispose();
    l.flow.dispose();
    // the page reads the loss every few steps; here only at the end of a block, plus a sync every 50 steps so
    // the time is the device's, not a queue's
    if (i % 50 === 49) await tf.ready();
  }
  return { ms: performance.now() - t0, ...last };
}

async function energies(n: number): Promise<{ diffusion: number; flow: number }> {
  const xT = FlowPlayground.noise(SAMPLES, seed);
  const runs = await pg.sample(xT, { steps: n, record: false });
  return { diffusion: pg.measure(runs.diffusion).energy, flow: pg.measure(runs.flow).energy };
}

// the floor: 500 fresh points of the target itself against the same reference
const floor = energyDistance(sampleTarget(preset, SAMPLES, seed + 1000), SAMPLES, pg.reference, pg.reference.length / 2, 2);
console.log(`energy distance of ${SAMPLES} fresh target points to the reference (the floor): ${floor.toFixed(4)}`);
const rows: Record<string, unknown>[] = [];
let trainedMs = 0;
console.log(`preset ${preset}, seed ${seed}, batch ${pg.batch}, ${pg.paramCount()} parameters a network, wasm`);
console.log('step  train s  loss ε   loss v   ED diff@100  ED flow@100  ED flow@1');
const before = tf.memory().numTensors;
for (let done = 0; done < steps; ) {
  const k = Math.min(every, steps - done);
  const r = await train(k);
  done += k;
  trainedMs += r.ms;
  const e100 = await energies(100);
  const e1 = await energies(1);
  rows.push({ step: done, trainSeconds: trainedMs / 1000, lossDiffusion: r.diffusion, lossFlow: r.flow, ed100: e100, ed1: e1 });
  console.log(`${String(done).padStart(5)} ${(trainedMs / 1000).toFixed(2).padStart(7)}  ${r.diffusion.toFixed(4)}  ${r.flow.toFixed(4)}  ${e100.diffusion.toFixed(4).padStart(10)}  ${e100.flow.toFixed(4).padStart(10)}  ${e1.flow.toFixed(4).padStart(9)}`);
}
const oneStepBefore = await energies(1);
const t0 = performance.now();
await pg.reflow({ count: Number(values['reflow-pairs']), fresh: values.fresh ?? false });
const pairMs = performance.now() - t0;
const rr = await train(reflowSteps);
const oneStepAfter = await energies(1);
const hundredAfter = await energies(100);
const ratio = oneStepBefore.flow / oneStepAfter.flow;
console.log(`reflow: pairs in ${(pairMs / 1000).toFixed(2)} s, ${reflowSteps} steps on them in ${(rr.ms / 1000).toFixed(2)} s`);
console.log(`1-step flow energy distance: before ${oneStepBefore.flow.toFixed(4)}, after ${oneStepAfter.flow.toFixed(4)} (÷${ratio.toFixed(2)}); 100-step after ${hundredAfter.flow.toFixed(4)}`);
console.log(`1-step diffusion (DDIM) energy distance: ${oneStepAfter.diffusion.toFixed(4)}`);
console.log(`tensors: ${before} before training, ${tf.memory().numTensors} after`);
const result = { preset, seed, fresh: values.fresh ?? false, floor, batch: pg.batch, params: pg.paramCount(), rows, reflow: { pairMs, steps: reflowSteps, trainMs: rr.ms, oneStepBefore, oneStepAfter, hundredAfter, ratio } };
pg.dispose();
if (!values['no-write']) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'flow2d.json'), JSON.stringify(result, null, 2));
}
