/**
 * Adam (Kingma & Ba 2015) over all of a model's variables at once. tfjs's AdamOptimizer runs about ten kernels
 * per variable per step (moments, bias corrections, update); the U-Net has ~80 variables, so a training step
 * spent some 800 small kernel calls on the optimiser, each with its own dispatch and allocation. Here the
 * gradients are concatenated into one flat vector, the moments live in two flat variables, the update is
 * a handful of kernels on that vector, and one split hands each variable its slice:
 *
 *   m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,
 *   θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 *
 * — the same update as `tf.train.adam(lr, β₁, β₂, ε)` (tests/core/adam.test.ts compares them step by step).
 * Global-norm gradient clipping (g ← g · min(1, c/‖g‖)) is one reduction on the same flat vector, and the
 * moments and step count can be read and restored for checkpoints (scripts/lib/trainer.ts).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface FusedAdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  /** Default 1e-7, tfjs's float32 epsilon (what tf.train.adam uses when given none). */
  epsilon?: number;
}

export interface StepOptions {
  /** Scale the whole gradient so that its global L2 norm is at most this (0 or absent: no clipping). */
  clipNorm?: number;
}

/** The optimiser's state: both moments as flat vectors (the constructor's variable order) and the step count. */
export interface FusedAdamState {
  iterations: number;
  m: Float32Array;
  v: Float32Array;
}

export class FusedAdam {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly vars: tf.Variable[];
  private readonly sizes: number[];
  private readonly m: tf.Variable<tf.Rank.R1>;
  private readonly v: tf.Variable<tf.Rank.R1>;
  private t = 0;

  constructor(vars: readonly tf.Variable[], opts: FusedAdamOptions) {
    if (vars.length === 0) throw new Error('FusedAdam needs at least one variable');
    this.vars = [...vars];
    this.sizes = this.vars.map((x) => x.size);
    this.learningRate = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-7;
    const total = this.sizes.reduce((a, b) => a + b, 0);
    // Created inside tidy: the zero tensors are freed, the variables (never tracked by tidy) stay.
    [this.m, this.v] = tf.tidy(() => [tf.variable(tf.zeros<tf.Rank.R1>([total]), false), tf.variable(tf.zeros<tf.Rank.R1>([total]), false)]);
  }

  /** Steps taken so far. */
  get iterations(): number {
    return this.t;
  }

  /** Total number of values over all variables (the length of a flat gradient). */
  get size(): number {
    return this.m.size;
  }

  /** One Adam step from gradients in the constructor's variable order (not disposed here). */
  applyGradients(grads: readonly tf.Tensor[], opts: StepOptions = {}): void {
    if (grads.length !== this.vars.length) throw new Error(`expected ${this.vars.length} gradients, got ${grads.length}`);
    tf.tidy(() => this.applyFlatGradient(tf.concat(grads.map((x, i) => tf.reshape(x, [this.sizes[i]]))) as tf.Tensor1D, opts));
  }

  /**
   * One Adam step from one flat gradient: every variable's gradient flattened and concatenated in the
   * constructor's order (not disposed here). The data-parallel trainer (scripts/lib/parallel.ts) averages
   * such vectors from several threads and steps with the mean.
   */
  applyFlatGradient(flat: tf.Tensor1D, opts: StepOptions = {}): void {
    if (flat.rank !== 1 || flat.size !== this.m.size) throw new Error(`expected a flat gradient of ${this.m.size} values, got shape [${flat.shape}]`);
    this.t++;
    const { beta1, beta2, epsilon } = this;
    // Bias corrections in float64 here, folded into two scalars.
    const stepSize = this.learningRate / (1 - beta1 ** this.t);
    const vScale = 1 / (1 - beta2 ** this.t);
    tf.tidy(() => {
      let g: tf.Tensor1D = flat;
      const clip = opts.clipNorm ?? 0;
      if (clip > 0) g = tf.mul(g, tf.minimum(1, tf.div(clip, tf.maximum(tf.sqrt(tf.sum(tf.square(g))), 1e-12))));
      const m = tf.add(tf.mul(this.m, beta1), tf.mul(g, 1 - beta1)) as tf.Tensor1D;
      const v = tf.add(tf.mul(this.v, beta2), tf.mul(tf.square(g), 1 - beta2)) as tf.Tensor1D;
      this.m.assign(m);
      this.v.assign(v);
      const update = tf.div(tf.mul(m, stepSize), tf.add(tf.sqrt(tf.mul(v, vScale)), epsilon));
      const parts = tf.split(update, this.sizes);
      this.vars.forEach((x, i) => x.assign(tf.sub(x, tf.reshape(parts[i], x.shape))));
    });
  }

  /** Like Optimizer.minimize(f, returnCost = true): the cost (caller disposes) after one step on ∂f/∂vars. */
  minimize(f: () => tf.Scalar, opts: StepOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const { value, grads } = tf.variableGrads(f, this.vars);
      this.applyGradients(this.vars.map((x) => grads[x.name]), opts);
      return value;
    });
  }

  /** A copy of the moments and the step count (for a checkpoint). */
  async getState(): Promise<FusedAdamState> {
    return { iterations: this.t, m: Float32Array.from(await this.m.data()), v: Float32Array.from(await this.v.data()) };
  }

  /** Continue from a saved state; the moments must have this optimiser's total length. */
  setState(state: FusedAdamState): void {
    const n = this.m.size;
    if (state.m.length !== n || state.v.length !== n) throw new Error(`FusedAdam state has moments of length ${state.m.length}/${state.v.length}, expected ${n}`);
    if (!Number.isInteger(state.iterations) || state.iterations < 0) throw new Error(`FusedAdam state has iterations = ${state.iterations}`);
    tf.tidy(() => {
      this.m.assign(tf.tensor1d(state.m));
      this.v.assign(tf.tensor1d(state.v));
    });
    this.t = state.iterations;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}
