import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { read, useBackend } from '../helpers/backends';
import { FusedAdam } from '../../src/core/adam';
import { registerWasmGradKernels } from '../../src/core/kernels';
import '../../src/core/nn/registerGradients';

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

/** Three variables of different ranks and a loss with different curvature in each. */
function makeProblem(tag: string) {
  const a = tf.variable(tf.tensor2d([0.5, -1, 2, 0.1, -0.3, 0.7], [2, 3]), true, `${tag}/a`);
  const b = tf.variable(tf.tensor1d([1, -2, 0.25]), true, `${tag}/b`);
  const c = tf.variable(tf.tensor4d(Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)), [1, 2, 2, 3]), true, `${tag}/c`);
  const target = tf.tensor1d([0.3, -0.2, 0.9]);
  const loss = () =>
    tf.tidy(() => {
      const y = tf.add(tf.sum(tf.mul(a, a), 0), b); // [3]
      const z = tf.mean(tf.square(tf.sub(c, 0.5)));
      return tf.add(tf.mean(tf.square(tf.sub(y, target))), tf.mul(z, 3)) as tf.Scalar;
    });
  return { vars: [a, b, c], target, loss };
}

/** Adam written out in float64 from Kingma & Ba's Algorithm 1 (tfjs's ε placement: outside the square root). */
function adamRef(theta: number[], grad: (theta: number[]) => number[], steps: number, lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-7, clipNorm = 0): number[] {
  const m = theta.map(() => 0);
  const v = theta.map(() => 0);
  const th = [...theta];
  for (let t = 1; t <= steps; t++) {
    let g = grad(th);
    const norm = Math.hypot(...g);
    if (clipNorm > 0 && norm > clipNorm) g = g.map((x) => (x * clipNorm) / norm);
    for (let i = 0; i < th.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      th[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
    }
  }
  return th;
}

describe('FusedAdam', () => {
  it('matches tf.train.adam step by step over several variables of different shapes', async () => {
    const fused = makeProblem('fused');
    const stock = makeProblem('stock');
    const opt = new FusedAdam(fused.vars, { lr: 0.05 });
    const ref = tf.train.adam(0.05);
    for (let step = 0; step < 8; step++) {
      const l1 = opt.minimize(fused.loss);
      const l2 = ref.minimize(stock.loss, true, stock.vars) as tf.Scalar;
      const [a, b] = [(await read(l1))[0], (await read(l2))[0]];
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-4 * Math.abs(b)); // float32 rounding (tfjs keeps β^t in float32), not a different update
      tf.dispose([l1, l2]);
    }
    for (let i = 0; i < 3; i++) {
      const got = Array.from(await read(fused.vars[i]));
      const want = Array.from(await read(stock.vars[i]));
      got.forEach((x, k) => expect(x).toBeCloseTo(want[k], 4));
    }
    expect(opt.iterations).toBe(8);
    opt.dispose();
    ref.dispose();
    tf.dispose([...fused.vars, ...stock.vars, fused.target, stock.target]);
  });

  it('matches a float64 Adam on a quadratic, where the gradient is known in closed form', async () => {
    // L = Σ k_i (θ_i − 1)², ∂L/∂θ_i = 2 k_i (θ_i − 1)
    const k = [0.5, 3, 10, 0.01];
    const theta0 = [0, 2, -1, 5];
    const x = tf.variable(tf.tensor1d(theta0.slice(0, 2)), true, 'q/x');
    const y = tf.variable(tf.tensor2d([theta0.slice(2)], [1, 2]), true, 'q/y');
    const kx = tf.tensor1d(k.slice(0, 2));
    const ky = tf.tensor2d([k.slice(2)], [1, 2]);
    const opt = new FusedAdam([x, y], { lr: 0.1 });
    for (let s = 0; s < 20; s++) {
      const l = opt.minimize(() => tf.tidy(() => tf.add(tf.sum(tf.mul(kx, tf.square(tf.sub(x, 1)))), tf.sum(tf.mul(ky, tf.square(tf.sub(y, 1))))) as tf.Scalar));
      l.dispose();
    }
    const want = adamRef(theta0, (th) => th.map((v, i) => 2 * k[i] * (v - 1)), 20, 0.1);
    const got = [...(await read(x)), ...(await read(y))];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    opt.dispose();
    tf.dispose([x, y, kx, ky]);
  });

  it('clips the global gradient norm like a float64 reference, and only when the norm exceeds the limit', async () => {
    const k = [0.5, 3, 10, 0.01];
    const theta0 = [0, 2, -1, 5];
    const grad = (th: number[]) => th.map((v, i) => 2 * k[i] * (v - 1));
    for (const clipNorm of [1, 1000]) {
      const x = tf.variable(tf.tensor1d(theta0.slice(0, 2)));
      const y = tf.variable(tf.tensor2d([theta0.slice(2)], [1, 2]));
      const kx = tf.tensor1d(k.slice(0, 2));
      const ky = tf.tensor2d([k.slice(2)], [1, 2]);
      const opt = new FusedAdam([x, y], { lr: 0.1 });
      for (let s = 0; s < 20; s++) {
        opt.minimize(() => tf.tidy(() => tf.add(tf.sum(tf.mul(kx, tf.square(tf.sub(x, 1)))), tf.sum(tf.mul(ky, tf.square(tf.sub(y, 1))))) as tf.Scalar), { clipNorm }).dispose();
      }
      const got = [...(await read(x)), ...(await read(y))];
      const want = adamRef(theta0, grad, 20, 0.1, 0.9, 0.999, 1e-7, clipNorm);
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
      // The initial gradient norm is 60.1: clipping at 1 must change the path, clipping at 1000 must not.
      const unclipped = adamRef(theta0, grad, 20, 0.1);
      const differs = want.some((v, i) => Math.abs(v - unclipped[i]) > 1e-3);
      expect(differs).toBe(clipNorm === 1);
      opt.dispose();
      tf.dispose([x, y, kx, ky]);
    }
  });

  it('resumes from getState() exactly where it left off, and rejects a state of the wrong size', async () => {
    const a = makeProblem('stateA');
    const b = makeProblem('stateB');
    const optA = new FusedAdam(a.vars, { lr: 0.05 });
    for (let s = 0; s < 5; s++) optA.minimize(a.loss).dispose();
    const state = await optA.getState();
    expect(state.iterations).toBe(5);
    expect(state.m.length).toBe(6 + 3 + 12);
    for (let i = 0; i < 3; i++) (b.vars[i] as tf.Variable).assign(a.vars[i] as tf.Tensor);
    const optB = new FusedAdam(b.vars, { lr: 0.05 });
    optB.setState(state);
    for (let s = 0; s < 3; s++) {
      optA.minimize(a.loss).dispose();
      optB.minimize(b.loss).dispose();
    }
    for (let i = 0; i < 3; i++) expect(Array.from(await read(b.vars[i]))).toEqual(Array.from(await read(a.vars[i])));
    expect(() => optB.setState({ ...state, m: state.m.subarray(1) })).toThrow(/moments of length 20\/21, expected 21/);
    optA.dispose();
    optB.dispose();
    tf.dispose([...a.vars, ...b.vars, a.target, b.target]);
  });

  it('steps from one flat gradient (the data-parallel trainer\'s mean) exactly as from the per-variable gradients', async () => {
    const a = makeProblem('flatA');
    const b = makeProblem('flatB');
    const optA = new FusedAdam(a.vars, { lr: 0.05 });
    const optB = new FusedAdam(b.vars, { lr: 0.05 });
    expect(optB.size).toBe(6 + 3 + 12);
    for (let s = 0; s < 4; s++) {
      optA.minimize(a.loss, { clipNorm: 0.5 }).dispose();
      tf.tidy(() => {
        const { grads } = tf.variableGrads(b.loss, b.vars as tf.Variable[]);
        const flat = tf.concat(b.vars.map((x) => tf.reshape(grads[(x as tf.Variable).name], [x.size]))) as tf.Tensor1D;
        optB.applyFlatGradient(flat, { clipNorm: 0.5 });
      });
    }
    expect(optB.iterations).toBe(4);
    for (let i = 0; i < 3; i++) expect(Array.from(await read(b.vars[i]))).toEqual(Array.from(await read(a.vars[i])));
    const short = tf.zeros([20]) as tf.Tensor1D;
    expect(() => optB.applyFlatGradient(short)).toThrow(/expected a flat gradient of 21 values, got shape \[20\]/);
    short.dispose();
    optA.dispose();
    optB.dispose();
    tf.dispose([...a.vars, ...b.vars, a.target, b.target]);
  });

  it('keeps tf.memory().numTensors flat across steps and frees its moments on dispose', async () => {
    const p = makeProblem('mem');
    const before = tf.memory().numTensors;
    const opt = new FusedAdam(p.vars, { lr: 0.01 });
    expect(tf.memory().numTensors).toBe(before + 2);
    for (let s = 0; s < 5; s++) opt.minimize(p.loss).dispose();
    expect(tf.memory().numTensors).toBe(before + 2);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...p.vars, p.target]);
  });
});
