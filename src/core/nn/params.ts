/**
 * Named trainable parameters with deterministic initialisation. Every value is generated in JavaScript
 * from a seeded stream forked by the parameter's name (noise.ts), then uploaded, so the same seed gives
 * bit-identical weights on every backend, and adding a layer never changes another layer's init.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fork, makeRng } from '../noise';

/** How a parameter is initialised. */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  /** U(−limit, limit). */
  | { kind: 'uniform'; limit: number };

/** Variance-scaling uniform init: Var = scale / fanIn (LeCun for scale 1, He for scale 2). */
export function fanInUniform(fanIn: number, scale = 1): Init {
  return { kind: 'uniform', limit: Math.sqrt((3 * scale) / fanIn) };
}

/** The initial values of one parameter (a fresh stream per name: order of creation does not matter). */
export function initValues(init: Init, size: number, seed: number, name: string): Float32Array {
  const out = new Float32Array(size);
  if (init.kind === 'ones') out.fill(1);
  if (init.kind === 'uniform') {
    const rng = makeRng(fork(seed, name));
    for (let i = 0; i < size; i++) out[i] = (2 * rng.uniform() - 1) * init.limit;
  }
  return out;
}

/** A name → variable registry; names are stable ('down0.res0.conv0.w') and define the weight files. */
export class ParamStore {
  /** Insertion-ordered parameters. */
  readonly variables = new Map<string, tf.Variable>();

  constructor(readonly seed: number) {}

  /** Create a float32 trainable variable; throws when the name is taken. */
  create(name: string, shape: number[], init: Init): tf.Variable {
    if (this.variables.has(name)) throw new Error(`parameter '${name}' already exists`);
    const size = shape.reduce((p, s) => p * s, 1);
    const initial = tf.tensor(initValues(init, size, this.seed, name), shape, 'float32');
    // No tfjs variable name: tfjs names are global, and two models may hold the same parameter names.
    const v = tf.variable(initial, true);
    initial.dispose();
    this.variables.set(name, v);
    return v;
  }

  /** Total number of scalars. */
  count(): number {
    let n = 0;
    for (const v of this.variables.values()) n += v.size;
    return n;
  }

  /** Copies of all values, read asynchronously (never dataSync), keyed by name. */
  async getWeights(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const [name, v] of this.variables) out[name] = (await v.data()) as Float32Array;
    return out;
  }

  /** Assign every parameter from a name → values map; throws (changing nothing) on missing, extra or mis-sized entries. */
  setWeights(weights: Record<string, ArrayLike<number>>): void {
    const problems: string[] = [];
    for (const [name, v] of this.variables) {
      const w = weights[name];
      if (w === undefined) problems.push(`missing '${name}'`);
      else if (w.length !== v.size) problems.push(`'${name}' has ${w.length} values, expected ${v.size} [${v.shape}]`);
    }
    for (const name of Object.keys(weights)) if (!this.variables.has(name)) problems.push(`unknown '${name}'`);
    if (problems.length > 0) throw new Error(`setWeights: ${problems.join('; ')}`);
    for (const [name, v] of this.variables) {
      tf.tidy(() => v.assign(tf.tensor(Float32Array.from(weights[name]), v.shape, 'float32')));
    }
  }

  /** Dispose every variable. */
  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}
