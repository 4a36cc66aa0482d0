/**
 * Seeded randomness, independent of the tfjs backend: xoshiro128** (Blackman & Vigna 2018) seeded through
 * splitmix32, and Box–Muller normals. Noise is generated in JavaScript and uploaded with `tf.tensor`, so the
 * same seed gives the same numbers on cpu, wasm, webgl and webgpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NoiseSource } from './types';

const TWO_POW_32 = 4294967296;

/** A 32-bit generator step: each call returns the next uint32. */
export type Uint32Generator = () => number;

/** splitmix32 (a 32-bit port of Steele et al. 2014's SplitMix): used to expand one seed into generator state. */
export function splitmix32(seed: number): Uint32Generator {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** xoshiro128** from an explicit state (not all zero), Blackman & Vigna 2018. */
export function xoshiro128ss(a: number, b: number, c: number, d: number): Uint32Generator {
  let s0 = a >>> 0;
  let s1 = b >>> 0;
  let s2 = c >>> 0;
  let s3 = d >>> 0;
  if ((s0 | s1 | s2 | s3) === 0) throw new RangeError('xoshiro128** state must not be all zero');
  return () => {
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
}

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Fold any finite number (integers up to 2^53, negatives, fractions) into a uint32 seed; uint32 seeds map to themselves. */
function toUint32Seed(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be finite, got ${seed}`);
  if (Number.isInteger(seed) && seed >= 0 && seed < TWO_POW_32) return seed;
  const whole = Math.floor(seed);
  const lo = whole >>> 0;
  const hi = Math.floor(whole / TWO_POW_32) >>> 0;
  const frac = Math.floor((seed - whole) * TWO_POW_32) >>> 0;
  return fmix32(fmix32(fmix32(lo ^ 0x2545f491) ^ hi) ^ frac);
}

/** A uniform/normal random stream from one seed. */
export interface Rng {
  readonly seed: number;
  /** Next raw uint32. */
  nextUint32(): number;
  /** Uniform on [0, 1) with 32-bit resolution. */
  uniform(): number;
  /** Uniform integer in {0, …, n − 1} (unbiased, by rejection); 1 ≤ n ≤ 2^32. */
  uniformInt(n: number): number;
  /** One standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number;
}

/** A seeded Rng: xoshiro128** with state from splitmix32(seed). */
export function makeRng(seed: number): Rng {
  const sm = splitmix32(toUint32Seed(seed));
  let a = sm();
  const b = sm();
  const c = sm();
  const d = sm();
  if ((a | b | c | d) === 0) a = 1;
  const next = xoshiro128ss(a, b, c, d);
  let spare = 0;
  let hasSpare = false;
  return {
    seed,
    nextUint32: next,
    uniform: () => next() / TWO_POW_32,
    uniformInt(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32)
        throw new RangeError(`uniformInt needs 1 ≤ n ≤ 2^32, got ${n}`);
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      let x = next();
      while (x >= limit) x = next();
      return x % n;
    },
    normal(): number {
      if (hasSpare) {
        hasSpare = false;
        return spare;
      }
      const u1 = (next() + 1) / TWO_POW_32; // (0, 1]: log never sees 0
      const u2 = next() / TWO_POW_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      spare = r * Math.sin(theta);
      hasSpare = true;
      return r * Math.cos(theta);
    },
  };
}

/** A seed for an independent sub-stream, e.g. fork(seed, 'timesteps') vs fork(seed, 'batch'). */
export function fork(seed: number, stream: number | string): number {
  let h = toUint32Seed(seed);
  const key = typeof stream === 'number' ? String(toUint32Seed(stream)) : `s:${stream}`;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0; // FNV-1a style mixing
  }
  return splitmix32(h ^ 0x5bd1e995)();
}

/** A seeded NoiseSource: one normal stream shared by `normal` and `normalArray` (calls continue each other). */
export function makeNoise(seed: number): NoiseSource & { readonly seed: number } {
  const rng = makeRng(seed);
  const normalArray = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = rng.normal();
    return out;
  };
  return {
    seed,
    normalArray,
    /** Float32 N(0, 1) tensor of this shape; the caller disposes it. */
    normal(shape: number[]): tf.Tensor {
      const size = shape.reduce((p, s) => p * s, 1);
      return tf.tensor(normalArray(size), shape, 'float32');
    },
  };
}
