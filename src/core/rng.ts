/**
 * Seeded randomness for the whole project, with no tfjs: core, workers, widgets, build-time components and
 * scripts draw from here, so the same seed gives the same numbers on every backend and in every context.
 *
 * | generator          | state          | used for                                                        |
 * |--------------------|----------------|-----------------------------------------------------------------|
 * | `makeRng(seed)`    | 4 × uint32     | all noise (samplers, evaluation, weight init, lesson figures)   |
 * | `Mulberry32Rng`    | 1 × uint32     | the MNIST split and the offline trainer (a checkpoint stores it) |
 *
 * Both implement `Rng` and `fork`. They stay two algorithms because shipped results depend on each stream:
 * every sample grid and `models/eval.json` on xoshiro128**, the train/held-out split of `mnist.bin.gz` (rebuilt
 * by every build) and resumable training checkpoints on mulberry32.
 */

const TWO_POW_32 = 4294967296;

/** A 32-bit generator step: each call returns the next uint32. */
export type Uint32Generator = () => number;

/** A uniform/normal random stream (what samplers and training draws consume). */
export interface Rng {
  readonly seed: number;
  /** Next raw uint32. */
  nextUint32(): number;
  /** Uniform on [0, 1) with 32-bit resolution. */
  uniform(): number;
  /** Uniform integer in {0, …, n − 1}. */
  uniformInt(n: number): number;
  /** One standard normal (Box–Muller). */
  normal(): number;
}

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
export function toUint32Seed(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be finite, got ${seed}`);
  if (Number.isInteger(seed) && seed >= 0 && seed < TWO_POW_32) return seed;
  const whole = Math.floor(seed);
  const lo = whole >>> 0;
  const hi = Math.floor(whole / TWO_POW_32) >>> 0;
  const frac = Math.floor((seed - whole) * TWO_POW_32) >>> 0;
  return fmix32(fmix32(fmix32(lo ^ 0x2545f491) ^ hi) ^ frac);
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

function checkN(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new RangeError(`${what} needs 1 ≤ n ≤ 2^32, got ${n}`);
}

/** Helpers every stream shares, written once over the generator's own uniformInt and normal. */
abstract class RngBase implements Rng {
  abstract readonly seed: number;
  abstract nextUint32(): number;
  abstract uniformInt(n: number): number;
  abstract normal(): number;
  /** A new stream of the same kind whose seed is fork(seed, stream): independent of the draws made so far. */
  abstract fork(stream: number | string): Rng;

  uniform(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** n standard normals, in the order `normal()` gives them. */
  normalArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** Fisher–Yates shuffle in place (j = uniformInt(i + 1) for i from the end). */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.uniformInt(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }
}

/**
 * xoshiro128** with state from splitmix32(seed); unbiased integers by rejection; Box–Muller normals whose
 * second value is kept for the next call.
 */
export class XoshiroRng extends RngBase {
  readonly nextUint32: Uint32Generator;
  private spare = 0;
  private hasSpare = false;

  constructor(readonly seed: number) {
    super();
    const sm = splitmix32(toUint32Seed(seed));
    let a = sm();
    const b = sm();
    const c = sm();
    const d = sm();
    if ((a | b | c | d) === 0) a = 1;
    this.nextUint32 = xoshiro128ss(a, b, c, d);
  }

  /** Uniform integer in {0, …, n − 1}, unbiased by rejection; 1 ≤ n ≤ 2^32. */
  uniformInt(n: number): number {
    checkN(n, 'uniformInt');
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u1 = (this.nextUint32() + 1) / TWO_POW_32; // (0, 1]: log never sees 0
    const u2 = this.nextUint32() / TWO_POW_32;
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  fork(stream: number | string): XoshiroRng {
    return new XoshiroRng(fork(this.seed, stream));
  }
}

/** The default seeded stream (xoshiro128**). */
export function makeRng(seed: number): XoshiroRng {
  return new XoshiroRng(seed);
}

/**
 * mulberry32: its whole state is one uint32 (`state`, public so checkpoints can save and restore it).
 * Integers are ⌊uniform · n⌋ and each normal uses two uniforms (no value kept between calls), so the stream
 * position is always exactly `state`. `next`/`int` are the names the training jobs use for uniform/uniformInt.
 */
export class Mulberry32Rng extends RngBase {
  state: number;

  constructor(readonly seed: number) {
    super();
    this.state = seed >>> 0;
  }

  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1) (= uniform()). */
  next(): number {
    return this.uniform();
  }

  /** Uniform integer in [0, n) as ⌊uniform · n⌋ (bias below 2^−32 · n). */
  uniformInt(n: number): number {
    checkN(n, 'uniformInt');
    return Math.floor(this.uniform() * n);
  }

  /** = uniformInt(n). */
  int(n: number): number {
    return this.uniformInt(n);
  }

  /** Standard normal (Box–Muller's cosine branch; consumes two uniforms). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  fork(stream: number | string): Mulberry32Rng {
    return new Mulberry32Rng(fork(this.seed, stream));
  }
}
