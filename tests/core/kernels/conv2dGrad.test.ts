import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '../../../src/core/nn/registerGradients';
import { registerWasmGradKernels, wasmGradKernelsRegistered } from '../../../src/core/kernels';
import { filterGradMethod } from '../../../src/core/kernels/conv2dGrad';

/** Tiny seeded uniform generator (mulberry32) so the test needs nothing else. */
function randoms(seed: number, n: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

interface Case {
  n: number;
  H: number;
  W: number;
  ci: number;
  co: number;
  k: number;
  pad: 'same' | 'valid';
}

/** Padding top/left and the output size, from the TensorFlow 'same'/'valid' rules for stride 1. */
function geometry(c: Case) {
  const oh = c.pad === 'same' ? c.H : c.H - c.k + 1;
  const ow = c.pad === 'same' ? c.W : c.W - c.k + 1;
  const pt = c.pad === 'same' ? Math.floor((c.k - 1) / 2) : 0;
  const pl = pt;
  return { oh, ow, pt, pl };
}

/** Float64 reference of both gradients of y = conv2d(x, W) given dy, by direct summation. */
function referenceGrads(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array) {
  const { oh, ow, pt, pl } = geometry(c);
  const dW = new Float64Array(c.k * c.k * c.ci * c.co);
  const dX = new Float64Array(c.n * c.H * c.W * c.ci);
  for (let n = 0; n < c.n; n++)
    for (let y = 0; y < oh; y++)
      for (let xo = 0; xo < ow; xo++)
        for (let kh = 0; kh < c.k; kh++)
          for (let kw = 0; kw < c.k; kw++) {
            const iy = y + kh - pt;
            const ix = xo + kw - pl;
            if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
            for (let ci = 0; ci < c.ci; ci++) {
              const xi = ((n * c.H + iy) * c.W + ix) * c.ci + ci;
              for (let co = 0; co < c.co; co++) {
                const g = dy[((n * oh + y) * ow + xo) * c.co + co];
                const wi = ((kh * c.k + kw) * c.ci + ci) * c.co + co;
                dW[wi] += x[xi] * g;
                dX[xi] += w[wi] * g;
              }
            }
          }
  return { dW, dX };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

const CASES: Case[] = [
  { n: 3, H: 7, W: 6, ci: 4, co: 5, k: 3, pad: 'same' },
  { n: 2, H: 5, W: 9, ci: 3, co: 2, k: 1, pad: 'same' },
  { n: 3, H: 4, W: 7, ci: 2, co: 5, k: 1, pad: 'same' },
  { n: 1, H: 5, W: 5, ci: 6, co: 3, k: 3, pad: 'same' }, // batch 1, more in- than out-channels
  { n: 2, H: 6, W: 5, ci: 2, co: 3, k: 3, pad: 'valid' },
  { n: 2, H: 6, W: 6, ci: 3, co: 4, k: 2, pad: 'same' }, // asymmetric padding (0 before, 1 after)
  { n: 4, H: 14, W: 14, ci: 8, co: 16, k: 3, pad: 'same' },
  { n: 2, H: 28, W: 28, ci: 1, co: 8, k: 3, pad: 'same' },
  // The U-Net's 28×28 layers (the per-tap GEMM form), and that form with 'valid' and asymmetric padding.
  { n: 3, H: 28, W: 28, ci: 16, co: 16, k: 3, pad: 'same' },
  { n: 2, H: 28, W: 28, ci: 48, co: 16, k: 3, pad: 'same' },
  { n: 2, H: 28, W: 27, ci: 5, co: 9, k: 3, pad: 'valid' },
  { n: 2, H: 26, W: 28, ci: 3, co: 8, k: 2, pad: 'same' },
  // …and its 14×14, 7×7 and 16 → 1 layers (the one-convolution form).
  { n: 2, H: 14, W: 14, ci: 64, co: 32, k: 3, pad: 'same' },
  { n: 2, H: 7, W: 7, ci: 32, co: 32, k: 3, pad: 'same' },
  { n: 2, H: 28, W: 28, ci: 16, co: 1, k: 3, pad: 'same' },
];

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  registerWasmGradKernels();
});

describe('custom wasm Conv2D gradient kernels', () => {
  it('are registered for wasm and registering again changes nothing', () => {
    expect(wasmGradKernelsRegistered()).toBe(true);
    const before = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    registerWasmGradKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBe(before);
  });

  it('use the per-tap GEMMs on the 28×28 layers and one convolution on the others', () => {
    const method = (c: Case) => filterGradMethod(tf.backend_util.computeConv2DInfo([c.n, c.H, c.W, c.ci], [c.k, c.k, c.ci, c.co], 1, 1, c.pad));
    const [gemm, conv] = [CASES.filter((c) => c.k > 1 && method(c) === 'gemm'), CASES.filter((c) => c.k > 1 && method(c) === 'conv')];
    expect(gemm.map((c) => `${c.H}×${c.W} ${c.ci}→${c.co}`)).toEqual(['28×28 1→8', '28×28 16→16', '28×28 48→16', '28×27 5→9', '26×28 3→8']);
    expect(conv.length).toBeGreaterThanOrEqual(5);
  });

  for (const c of CASES) {
    const label = `n=${c.n} ${c.H}×${c.W} ${c.ci}→${c.co} k=${c.k} '${c.pad}'`;
    it(`match a float64 direct-summation reference for ${label}`, async () => {
      const { oh, ow } = geometry(c);
      const x = randoms(1 + c.k, c.n * c.H * c.W * c.ci);
      const w = randoms(2 + c.co, c.k * c.k * c.ci * c.co);
      const dy = randoms(3 + c.ci, c.n * oh * ow * c.co);
      const ref = referenceGrads(c, x, w, dy);
      const xT = tf.tensor4d(x, [c.n, c.H, c.W, c.ci]);
      const wT = tf.tensor4d(w, [c.k, c.k, c.ci, c.co]);
      const dyT = tf.tensor4d(dy, [c.n, oh, ow, c.co]);
      const attrs = { strides: [1, 1], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
      const before = tf.memory().numTensors;
      const dataIdsBefore = tf.engine().backend.numDataIds();
      const gW = tf.engine().runKernel('Conv2DBackpropFilter', { x: xT, dy: dyT }, { ...attrs, filterShape: wT.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const gX = tf.engine().runKernel('Conv2DBackpropInput', { dy: dyT, filter: wT }, { ...attrs, inputShape: xT.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      expect(gW.shape).toEqual(wT.shape);
      expect(gX.shape).toEqual(xT.shape);
      const tol = 1e-4 * Math.max(1, maxAbs(ref.dW), maxAbs(ref.dX));
      expect(maxAbsDiff(await gW.data(), ref.dW)).toBeLessThan(tol);
      expect(maxAbsDiff(await gX.data(), ref.dX)).toBeLessThan(tol);
      gW.dispose();
      gX.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.engine().backend.numDataIds()).toBe(dataIdsBefore); // intermediates were freed
      tf.dispose([xT, wT, dyT]);
    });
  }

  it('give tf.grads of a conv2d loss that equal the cpu backend’s stock kernels (batch 4, 3×3 same, with bias)', async () => {
    const shapeX: [number, number, number, number] = [4, 10, 12, 3];
    const shapeW: [number, number, number, number] = [3, 3, 3, 6];
    const x = randoms(11, 4 * 10 * 12 * 3);
    const w = randoms(12, 3 * 3 * 3 * 6);
    const target = randoms(13, 4 * 10 * 12 * 6);
    const lossGrads = async () => {
      const xs = tf.tensor4d(x, shapeX);
      const ws = tf.tensor4d(w, shapeW);
      const ys = tf.tensor4d(target, [4, 10, 12, 6]);
      const f = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.mean(tf.square(tf.sub(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')), ys))),
      );
      const [gx, gw] = f([xs, ws]);
      const out = [await gx.data(), await gw.data()];
      tf.dispose([xs, ws, ys, gx, gw]);
      return out;
    };
    const [wasmGx, wasmGw] = await lossGrads();
    await tf.setBackend('cpu');
    const [cpuGx, cpuGw] = await lossGrads();
    await tf.setBackend('wasm');
    expect(maxAbsDiff(wasmGx, cpuGx)).toBeLessThan(1e-5 * Math.max(1, maxAbs(cpuGx)));
    expect(maxAbsDiff(wasmGw, cpuGw)).toBeLessThan(1e-5 * Math.max(1, maxAbs(cpuGw)));
    expect(maxAbs(cpuGw)).toBeGreaterThan(0);
  });

  it('throw a clear error for stride 2 instead of computing a wrong gradient', () => {
    const xs = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    const ws = tf.zeros([3, 3, 1, 1]) as tf.Tensor4D;
    const f = tf.grad((a: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, ws, 2, 'same')));
    expect(() => f(xs)).toThrow(/only stride 1/);
    tf.dispose([xs, ws]);
  });
});
