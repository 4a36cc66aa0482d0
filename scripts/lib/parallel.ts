/**
 * Data-parallel training on one machine: the wasm backend runs one thread per process (its threads are off in
 * Node), so a training step uses one core. A `GradientPool` starts helper worker threads that each build the
 * same model (the job's `create`), and every step the trainer
 *
 *   1. draws the whole batch in the main thread (the run's only random stream, so resuming stays exact),
 *   2. splits it into one shard per thread and posts the current weights (one flat Float32Array) and a shard to
 *      each helper,
 *   3. computes its own shard's loss and gradient while the helpers compute theirs,
 *   4. averages the flat gradients (equal shards: the mean of the shard means is the batch mean) and takes one
 *      Adam step with it (FusedAdam.applyFlatGradient).
 *
 * The helpers hold no state between steps beyond their copy of the network, which every step overwrites, so
 * checkpoints need nothing from them. tests/scripts/parallel.test.ts checks the averaged gradient against the
 * single-thread gradient of the whole batch, and a two-thread run against a one-thread run.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { MnistData } from '../../src/core/data';
import type { Shard, TrainConfig } from './job';

export interface PoolInit {
  /** file: URL of the job module (scripts/jobs/<name>.ts) whose default export the helpers build. */
  jobModule: string;
  config: TrainConfig;
  data: MnistData;
  /** tfjs backend for the helpers (the main thread's). */
  backend: string;
}

/** What a helper returns for one shard. */
export interface ShardResult {
  loss: number;
  /** The shard's gradient, flattened in the order of the job model's `params` keys. */
  grad: Float32Array;
}

type Reply = { type: 'ready'; size: number } | { type: 'result'; loss: number; grad: Float32Array } | { type: 'error'; message: string };

/**
 * Split a step's draws into `parts` equal shards along the batch: arrays of `batchSize` values are per example,
 * longer ones (ε, ξ) hold batchSize equal rows.
 */
export function splitShard(d: Shard, parts: number, batchSize: number): Shard[] {
  if (!Number.isInteger(parts) || parts < 1 || batchSize % parts !== 0) throw new RangeError(`cannot split a batch of ${batchSize} into ${parts} equal shards`);
  const n = batchSize / parts;
  return Array.from({ length: parts }, (_, p) =>
    Object.fromEntries(
      Object.entries(d).map(([k, a]) => {
        if (a === undefined) return [k, undefined];
        if (a.length % batchSize !== 0) throw new RangeError(`draw ${k} has ${a.length} values, not a multiple of the batch (${batchSize})`);
        const row = a.length / batchSize;
        return [k, a.slice(p * n * row, (p + 1) * n * row)];
      }),
    ),
  );
}

/** Flatten variables (in order) into one Float32Array. */
export async function flatValues(vars: readonly tf.Tensor[]): Promise<Float32Array> {
  const parts = await Promise.all(vars.map((v) => v.data() as Promise<Float32Array>));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Assign one flat vector (as flatValues writes it) back to the variables. */
export function assignFlat(vars: readonly tf.Variable[], flat: Float32Array): void {
  const total = vars.reduce((n, v) => n + v.size, 0);
  if (flat.length !== total) throw new Error(`expected ${total} values for ${vars.length} variables, got ${flat.length}`);
  let at = 0;
  tf.tidy(() => {
    for (const v of vars) {
      v.assign(tf.tensor(flat.subarray(at, at + v.size), v.shape, 'float32'));
      at += v.size;
    }
  });
}

/** The mean loss and the mean flat gradient of `f` over `vars` (one thread's share of a step). */
export function flatGradient(f: () => tf.Scalar, vars: readonly tf.Variable[]): { value: tf.Scalar; grad: tf.Tensor1D } {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(f, [...vars]);
    return { value, grad: tf.concat(vars.map((v) => tf.reshape(grads[v.name], [v.size]))) as tf.Tensor1D };
  });
}

interface Helper {
  worker: Worker;
  pending: { resolve: (r: ShardResult) => void; reject: (e: Error) => void } | null;
  failure: Error | null;
}

export class GradientPool {
  private constructor(private readonly helpers: Helper[]) {}

  /** Start `count` helpers and wait until each has built its model; `paramCount` checks they built the same one. */
  static async start(count: number, init: PoolInit, paramCount: number): Promise<GradientPool> {
    const helpers: Helper[] = [];
    const pool = new GradientPool(helpers);
    try {
      await Promise.all(
        Array.from({ length: count }, (_, i) => {
          const worker = new Worker(new URL('./parallelWorker.mjs', import.meta.url), {
            workerData: { entry: new URL('./parallelWorker.ts', import.meta.url).href, ...init, index: i + 1 },
          });
          const helper: Helper = { worker, pending: null, failure: null };
          helpers.push(helper);
          return new Promise<void>((resolve, reject) => {
            const fail = (e: Error) => {
              helper.failure = e;
              reject(e);
              helper.pending?.reject(e);
              helper.pending = null;
            };
            worker.on('error', (e) => fail(new Error(`training thread ${i + 1}: ${e.message}`)));
            worker.on('exit', (code) => fail(new Error(`training thread ${i + 1} exited (code ${code})`)));
            worker.on('message', (m: Reply) => {
              if (m.type === 'ready') {
                if (m.size !== paramCount) fail(new Error(`training thread ${i + 1} built a model of ${m.size} values, the main thread ${paramCount}`));
                else resolve();
              } else if (m.type === 'error') fail(new Error(`training thread ${i + 1}: ${m.message}`));
              else {
                const p = helper.pending;
                helper.pending = null;
                p?.resolve({ loss: m.loss, grad: m.grad });
              }
            });
          });
        }),
      );
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Post the weights and one shard to each helper; resolves with their results in order. */
  compute(weights: Float32Array, shards: readonly Shard[]): Promise<ShardResult[]> {
    if (shards.length !== this.helpers.length) throw new Error(`expected ${this.helpers.length} shards, got ${shards.length}`);
    return Promise.all(
      this.helpers.map(
        (h, i) =>
          new Promise<ShardResult>((resolve, reject) => {
            if (h.failure) return reject(h.failure);
            if (h.pending) return reject(new Error('a training thread is still busy with the previous step'));
            h.pending = { resolve, reject };
            h.worker.postMessage({ type: 'step', weights, shard: shards[i] });
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(
      this.helpers.map(async (h) => {
        h.worker.removeAllListeners('exit');
        h.worker.removeAllListeners('error');
        h.worker.on('error', () => {});
        await h.worker.terminate();
      }),
    );
    this.helpers.length = 0;
  }
}
