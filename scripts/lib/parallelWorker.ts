/**
 * One helper thread of the data-parallel trainer (scripts/lib/parallel.ts): builds the job's model once, then
 * for each step overwrites its weights with the main thread's, computes its shard's loss and flat gradient,
 * and posts them back (the gradient's buffer is transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { enableTfjsCoreEsm } from './tfjsNode';
import type { Shard, TrainJob } from './job';
import type { PoolInit } from './parallel';

const port = parentPort!;
const init = workerData as PoolInit & { index: number };

async function main() {
  // The same order as scripts/train.ts: the resolve hook, the job module, then the gradients and the backend.
  enableTfjsCoreEsm();
  const job = ((await import(init.jobModule)) as { default: TrainJob }).default;
  await import('../../src/core/nn/registerGradients');
  const { initBackend } = await import('../../src/core/backends');
  const { SeededRandom } = await import('../../src/core/data');
  const { assignFlat, flatGradient } = await import('./parallel');
  const backend = await initBackend({ order: [init.backend as 'wasm' | 'cpu'] });
  if (backend !== init.backend) throw new Error(`backend ${init.backend} is not available in this thread (got ${backend})`);
  // The helper's own stream is never used for the maths (shards come drawn), only to satisfy create().
  const model = await job.create({ config: init.config, data: init.data, rng: new SeededRandom(init.config.seed + init.index), backend });
  const sharded = model.sharded;
  if (!sharded) throw new Error(`${job.name} cannot train on several threads (its model has no \`sharded\` step)`);
  const vars = Object.values(model.params);
  port.on('message', async (m: { type: 'step'; weights: Float32Array; shard: Shard }) => {
    try {
      assignFlat(vars, m.weights);
      const { value, grad } = flatGradient(() => sharded.loss(m.shard), vars);
      const [loss, g] = await Promise.all([value.data(), grad.data()]);
      value.dispose();
      grad.dispose();
      const out = Float32Array.from(g as Float32Array);
      port.postMessage({ type: 'result', loss: loss[0], grad: out }, [out.buffer]);
    } catch (e) {
      port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  });
  port.postMessage({ type: 'ready', size: vars.reduce((n, v) => n + v.size, 0) });
}

main().catch((e: unknown) => port.postMessage({ type: 'error', message: e instanceof Error ? e.stack ?? e.message : String(e) }));
