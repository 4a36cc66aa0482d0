import { describe, expect, test } from 'vitest';
import { Mulberry32Rng, XoshiroRng, fork, makeRng, splitmix32, xoshiro128ss } from '../../src/core/rng';

/** xoshiro128** written with BigInt straight from Blackman & Vigna's reference C code. */
function bigXoshiro(state: [number, number, number, number]) {
  const M = (1n << 32n) - 1n;
  const s = state.map((v) => BigInt(v)) as bigint[];
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
  return () => {
    const result = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    return Number(result);
  };
}

/** splitmix32 with BigInt: golden-ratio increment, then the murmur3 finaliser. */
function bigSplitmix32(seed: number) {
  const M = (1n << 32n) - 1n;
  let state = BigInt(seed >>> 0);
  return () => {
    state = (state + 0x9e3779b9n) & M;
    let z = state;
    z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M;
    z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M;
    return Number(z ^ (z >> 16n));
  };
}

describe('generators', () => {
  test('xoshiro128** matches a BigInt transcription of the reference algorithm', () => {
    for (const state of [
      [1, 2, 3, 4],
      [0xdeadbeef, 0x12345678, 0xffffffff, 7],
    ] as [number, number, number, number][]) {
      const ours = xoshiro128ss(...state);
      const ref = bigXoshiro(state);
      for (let i = 0; i < 1000; i++) expect(ours()).toBe(ref());
    }
    // First output for state (1, 2, 3, 4): rotl(2·5, 7)·9 = 1280·9.
    expect(xoshiro128ss(1, 2, 3, 4)()).toBe(11520);
  });

  test('splitmix32 matches a BigInt transcription', () => {
    for (const seed of [0, 1, 42, 0xffffffff]) {
      const ours = splitmix32(seed);
      const ref = bigSplitmix32(seed);
      for (let i = 0; i < 100; i++) expect(ours()).toBe(ref());
    }
  });

  test('an all-zero xoshiro state is rejected', () => {
    expect(() => xoshiro128ss(0, 0, 0, 0)).toThrow(RangeError);
  });
});

describe('makeRng', () => {
  test('the same seed gives the same stream and different seeds differ', () => {
    const a = makeRng(7);
    const b = makeRng(7);
    const c = makeRng(8);
    const xs = Array.from({ length: 50 }, () => a.nextUint32());
    expect(Array.from({ length: 50 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 50 }, () => c.nextUint32())).not.toEqual(xs);
  });

  test('seeds beyond 2^32, negative and fractional seeds give distinct streams', () => {
    const first = (seed: number) => makeRng(seed).nextUint32();
    const values = [0, 1, -1, 2 ** 32, 2 ** 32 + 1, 2 ** 40, 0.5, 1.5].map(first);
    expect(new Set(values).size).toBe(values.length);
    expect(() => makeRng(NaN)).toThrow(RangeError);
  });

  test('uniform lies in [0, 1) with mean ½ and variance 1/12', () => {
    const rng = makeRng(3);
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      s += u;
      s2 += u * u;
    }
    const mean = s / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(s2 / n - mean * mean - 1 / 12)).toBeLessThan(0.002);
  });

  test('uniformInt(n) covers 0…n−1 evenly (chi-square) and rejects bad n', () => {
    const rng = makeRng(11);
    const n = 10;
    const counts = new Array(n).fill(0);
    const draws = 50_000;
    for (let i = 0; i < draws; i++) {
      const k = rng.uniformInt(n);
      expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true);
      counts[k]++;
    }
    const expected = draws / n;
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(30); // 9 degrees of freedom: P(χ² > 30) ≈ 4e-4
    expect(rng.uniformInt(1)).toBe(0);
    expect(() => rng.uniformInt(0)).toThrow(RangeError);
    expect(() => rng.uniformInt(2.5)).toThrow(RangeError);
  });

  test('fork derives distinct, reproducible sub-stream seeds', () => {
    expect(fork(1, 'timesteps')).toBe(fork(1, 'timesteps'));
    const seeds = [fork(1, 'timesteps'), fork(1, 'batch'), fork(2, 'timesteps'), fork(1, 0), fork(1, 1), 1];
    expect(new Set(seeds).size).toBe(seeds.length);
    const a = makeRng(fork(5, 'a'));
    const b = makeRng(fork(5, 'b'));
    let agree = 0;
    for (let i = 0; i < 1000; i++) if (a.nextUint32() === b.nextUint32()) agree++;
    expect(agree).toBeLessThan(3);
  });
});


/** mulberry32 with BigInt, from Tommy Ettinger's reference C code (z = x += 0x6D2B79F5; …). */
function bigMulberry32(seed: number) {
  const M = (1n << 32n) - 1n;
  let x = BigInt(seed >>> 0);
  return () => {
    x = (x + 0x6d2b79f5n) & M;
    let z = x;
    z = ((z ^ (z >> 15n)) * (z | 1n)) & M;
    z ^= (z + (((z ^ (z >> 7n)) * (z | 61n)) & M)) & M;
    return Number(z ^ (z >> 14n));
  };
}

// First values of each stream as the code gave them before the generators moved to src/core/rng.ts
// (recorded from src/core/noise.ts's makeRng/fork/makeNoise and src/core/data.ts's SeededRandom): shipped
// sample grids, models/eval.json, weight initialisation and the MNIST split depend on them.
describe('streams the shipped results depend on', () => {
  test('makeRng and fork give the recorded values', () => {
    const r = makeRng(42);
    expect(Array.from({ length: 6 }, () => r.nextUint32())).toEqual([2837322924, 544945897, 479756282, 3500138142, 339756180, 113173290]);
    const n = makeRng(7);
    expect(Array.from({ length: 5 }, () => n.normal())).toEqual([-1.6997666597814771, -0.1308994614518781, 0.5907177150778119, 1.1193292094667526, -1.0527407152902781]);
    const k = makeRng(7);
    expect(Array.from({ length: 6 }, () => k.uniformInt(1000))).toEqual([400, 487, 449, 228, 727, 169]);
    const neg = makeRng(-3.5);
    expect([neg.nextUint32(), neg.nextUint32(), neg.nextUint32()]).toEqual([2997033608, 576874494, 1859077931]);
    const big = makeRng(2 ** 40 + 17);
    expect([big.nextUint32(), big.nextUint32(), big.nextUint32()]).toEqual([881124116, 2272243756, 3311738738]);
    expect([fork(1, 'timesteps'), fork(1, 'batch'), fork(20240601, 3), fork(5, 'down0/conv/w'), fork(2 ** 33, 0)]).toEqual([532831571, 1449009718, 1115024772, 3479447441, 1968975964]);
    expect(Array.from(makeRng(1).normalArray(6))).toEqual(
      [0.026228537783026695, -1.0622838735580444, -0.48322823643684387, 0.030339792370796204, 1.2211329936981201, -0.12807241082191467],
    );
  });

  test('Mulberry32Rng gives the recorded uniforms, normals, integers and shuffle', () => {
    const r = new Mulberry32Rng(1);
    expect(Array.from({ length: 5 }, () => r.next())).toEqual([0.6270739405881613, 0.002735721180215478, 0.5274470399599522, 0.9810509674716741, 0.9683778982143849]);
    const n = new Mulberry32Rng(5);
    expect([n.normal(), n.normal(), n.normal()]).toEqual([0.21789461927371653, -0.5038217049793774, -0.35307702052128326]);
    expect(n.state).toBe(2399460291);
    const k = new Mulberry32Rng(9);
    expect(Array.from({ length: 5 }, () => k.int(9000))).toEqual([1788, 7660, 1275, 7395, 6514]);
    expect(Array.from(new Mulberry32Rng(3).shuffle(Int32Array.from({ length: 10 }, (_, i) => i)))).toEqual([9, 5, 6, 1, 2, 4, 8, 3, 0, 7]);
  });
});

describe('Mulberry32Rng', () => {
  test('matches a BigInt transcription of the reference algorithm, as uint32 and as uniforms', () => {
    for (const seed of [0, 1, 20240601, 0xffffffff]) {
      const ours = new Mulberry32Rng(seed);
      const ref = bigMulberry32(seed);
      for (let i = 0; i < 500; i++) {
        const x = ref();
        expect(i % 2 ? ours.nextUint32() : ours.uniform() * 2 ** 32).toBe(x);
      }
    }
  });

  test('repeats its stream from a saved state (what a checkpoint stores) and gives roughly standard normals', () => {
    const r = new Mulberry32Rng(123);
    r.next();
    const saved = r.state;
    const a = [r.next(), r.next(), r.int(10), r.normal()];
    r.state = saved;
    expect([r.next(), r.next(), r.int(10), r.normal()]).toEqual(a);
    const z = r.normalArray(20_000);
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const meanSq = z.reduce((s, v) => s + v * v, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(meanSq - 1)).toBeLessThan(0.05);
  });

  test('integers are ⌊u·n⌋ of the next uniform and bad n is refused', () => {
    const a = new Mulberry32Rng(77);
    const b = new Mulberry32Rng(77);
    for (const n of [1, 2, 10, 9000, 2 ** 32]) expect(a.uniformInt(n)).toBe(Math.floor(b.uniform() * n));
    expect(() => a.uniformInt(0)).toThrow(RangeError);
    expect(() => a.int(1.5)).toThrow(RangeError);
  });
});

describe('fork as a method', () => {
  test('a child depends on the parent seed and the stream name only, not on draws already made', () => {
    const parent = makeRng(31);
    const early = parent.fork('eps');
    for (let i = 0; i < 17; i++) parent.normal();
    const late = parent.fork('eps');
    const xs = early.normalArray(8);
    expect(Array.from(late.normalArray(8))).toEqual(Array.from(xs));
    expect(Array.from(makeRng(fork(31, 'eps')).normalArray(8))).toEqual(Array.from(xs));
    expect(Array.from(parent.fork('t').normalArray(8))).not.toEqual(Array.from(xs));
    expect(early).toBeInstanceOf(XoshiroRng);
    const m = new Mulberry32Rng(31).fork(2);
    expect(m).toBeInstanceOf(Mulberry32Rng);
    expect(m.state).toBe(fork(31, 2));
  });

  test('shuffle is a permutation drawn with the generator’s own integers', () => {
    const a = makeRng(4).shuffle(Int32Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    const ref = makeRng(4);
    const b = Array.from({ length: 50 }, (_, i) => i);
    for (let i = 49; i > 0; i--) {
      const j = ref.uniformInt(i + 1);
      [b[i], b[j]] = [b[j], b[i]];
    }
    expect(Array.from(a)).toEqual(b);
  });
});
