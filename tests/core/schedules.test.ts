import { describe, expect, test } from 'vitest';
import {
  firstTAbove,
  firstTBelow,
  halfSignalT,
  makeSchedule,
  nearlyPureNoiseSteps,
  NEARLY_PURE_NOISE_ALPHA_BAR,
} from '../../src/core/schedules';
import type { Schedule } from '../../src/core/types';

/** Independent float64 reference of every derived array from β_1…β_T (Ho et al. 2020 eqs. 4, 7). */
function referenceFromBetas(betas: number[]) {
  const T = betas.length;
  const beta = [0, ...betas];
  const alpha = beta.map((b) => 1 - b);
  const alphaBar: number[] = [];
  for (let t = 0; t <= T; t++) {
    let p = 1;
    for (let s = 1; s <= t; s++) p *= 1 - beta[s];
    alphaBar.push(p);
  }
  return {
    beta,
    alpha,
    alphaBar,
    sqrtAlphaBar: alphaBar.map(Math.sqrt),
    sqrtOneMinusAlphaBar: alphaBar.map((a) => Math.sqrt(1 - a)),
    snr: alphaBar.map((a) => a / (1 - a)),
    logSnr: alphaBar.map((a) => Math.log(a / (1 - a))),
    betaTilde: beta.map((b, t) => (t === 0 ? 0 : (b * (1 - alphaBar[t - 1])) / (1 - alphaBar[t]))),
  };
}

const FIELDS = [
  'beta',
  'alpha',
  'alphaBar',
  'sqrtAlphaBar',
  'sqrtOneMinusAlphaBar',
  'snr',
  'logSnr',
  'betaTilde',
] as const;

function expectMatchesReference(schedule: Schedule, ref: ReturnType<typeof referenceFromBetas>) {
  for (const field of FIELDS) {
    const got = schedule[field];
    const want = ref[field];
    expect(got.length, field).toBe(want.length);
    for (let t = 1; t < want.length; t++) {
      const tol = 1e-10 * Math.max(1, Math.abs(want[t]));
      if (Math.abs(got[t] - want[t]) > tol) {
        throw new Error(`${schedule.kind} ${field}[${t}] = ${got[t]}, reference ${want[t]}`);
      }
    }
  }
}

/** Nichol & Dhariwal's f(t) = cos²(((t/T + s)/(1 + s))·π/2), squared. */
const fCos = (t: number, T: number, s = 0.008) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;

describe('linear schedule', () => {
  test('every array matches a float64 reference with β from 1e-4 to 0.02 over T = 1000', () => {
    const T = 1000;
    const betas = Array.from({ length: T }, (_, i) => 1e-4 + (i * (0.02 - 1e-4)) / (T - 1));
    expectMatchesReference(makeSchedule('linear', T), referenceFromBetas(betas));
  });

  test('keeps the same endpoints for other T', () => {
    const s = makeSchedule('linear', 50);
    expect(s.beta.length).toBe(51);
    expect(s.beta[1]).toBeCloseTo(1e-4, 15);
    expect(s.beta[50]).toBeCloseTo(0.02, 15);
    const betas = Array.from({ length: 50 }, (_, i) => 1e-4 + (i * (0.02 - 1e-4)) / 49);
    expectMatchesReference(s, referenceFromBetas(betas));
  });

  test('ᾱ_T at T = 1000 is about 4e-5, the value usually quoted for Ho et al.', () => {
    const s = makeSchedule('linear');
    expect(s.alphaBar[1000]).toBeGreaterThan(3.5e-5);
    expect(s.alphaBar[1000]).toBeLessThan(4.5e-5);
  });
});

describe('cosine schedule', () => {
  test('every array matches a float64 reference built from the squared-cosine f with β clipped at 0.999', () => {
    const T = 1000;
    const betas = Array.from({ length: T }, (_, i) => {
      const t = i + 1;
      return Math.min(1 - fCos(t, T) / fCos(0, T) / (fCos(t - 1, T) / fCos(0, T)), 0.999);
    });
    expectMatchesReference(makeSchedule('cosine', T), referenceFromBetas(betas));
  });

  test('ᾱ_t equals f(t)/f(0) wherever β was not clipped', () => {
    const T = 1000;
    const s = makeSchedule('cosine', T);
    for (let t = 1; t < T; t++) {
      expect(Math.abs(s.alphaBar[t] - fCos(t, T) / fCos(0, T))).toBeLessThan(1e-12);
    }
    expect(s.beta[T]).toBe(0.999);
  });

  test('differs clearly from the common bug that drops the square in f', () => {
    const T = 1000;
    const s = makeSchedule('cosine', T);
    const noSquare = (t: number) => Math.cos(((t / T + 0.008) / 1.008) * (Math.PI / 2));
    // f without the square gives ᾱ_500 ≈ 0.70 instead of ≈ 0.49.
    expect(Math.abs(s.alphaBar[500] - noSquare(500) / noSquare(0))).toBeGreaterThan(0.15);
    expect(s.alphaBar[500]).toBeGreaterThan(0.45);
    expect(s.alphaBar[500]).toBeLessThan(0.52);
  });

  test('works for small T with consistent arrays', () => {
    const T = 20;
    const betas = Array.from({ length: T }, (_, i) => Math.min(1 - fCos(i + 1, T) / fCos(i, T), 0.999));
    expectMatchesReference(makeSchedule('cosine', T), referenceFromBetas(betas));
  });
});

describe('schedule conventions', () => {
  test('index 0 is clean data: β_0 = 0, ᾱ_0 = 1, SNR and log-SNR infinite, β̃_0 = β̃_1 = 0', () => {
    for (const kind of ['linear', 'cosine'] as const) {
      const s = makeSchedule(kind);
      expect(s.beta[0]).toBe(0);
      expect(s.alpha[0]).toBe(1);
      expect(s.alphaBar[0]).toBe(1);
      expect(s.sqrtAlphaBar[0]).toBe(1);
      expect(s.sqrtOneMinusAlphaBar[0]).toBe(0);
      expect(s.snr[0]).toBe(Infinity);
      expect(s.logSnr[0]).toBe(Infinity);
      expect(s.betaTilde[0]).toBe(0);
      expect(s.betaTilde[1]).toBe(0);
      expect(s.T).toBe(1000);
      expect(s.kind).toBe(kind);
    }
  });

  test('ᾱ and log-SNR strictly decrease with t', () => {
    for (const kind of ['linear', 'cosine'] as const) {
      const s = makeSchedule(kind);
      for (let t = 1; t <= s.T; t++) {
        expect(s.alphaBar[t]).toBeLessThan(s.alphaBar[t - 1]);
        expect(s.logSnr[t]).toBeLessThan(s.logSnr[t - 1]);
      }
    }
  });

  test('schedules are cached per (kind, T) and the object is frozen', () => {
    expect(makeSchedule('linear', 1000)).toBe(makeSchedule('linear'));
    expect(makeSchedule('cosine', 100)).toBe(makeSchedule('cosine', 100));
    expect(makeSchedule('cosine', 100)).not.toBe(makeSchedule('cosine', 200));
    expect(makeSchedule('linear', 100)).not.toBe(makeSchedule('cosine', 100));
    expect(Object.isFrozen(makeSchedule('linear'))).toBe(true);
    expect(makeSchedule('linear', 1000, { betaEnd: 0.01 }).beta[1000]).toBeCloseTo(0.01, 15);
  });

  test('rejects a non-integer or non-positive T and an unknown kind', () => {
    expect(() => makeSchedule('linear', 0)).toThrow(RangeError);
    expect(() => makeSchedule('linear', 10.5)).toThrow(RangeError);
    expect(() => makeSchedule('quadratic' as never, 10)).toThrow(RangeError);
  });
});

describe('schedule helpers', () => {
  test('halfSignalT is the first t where ᾱ_t < ½', () => {
    for (const kind of ['linear', 'cosine'] as const) {
      const s = makeSchedule(kind);
      const t = halfSignalT(s);
      expect(s.alphaBar[t]).toBeLessThan(0.5);
      expect(s.alphaBar[t - 1]).toBeGreaterThanOrEqual(0.5);
    }
    // Cosine is symmetric-ish around T/2; linear loses half its signal much earlier.
    expect(halfSignalT(makeSchedule('cosine'))).toBeGreaterThan(480);
    expect(halfSignalT(makeSchedule('cosine'))).toBeLessThan(520);
    expect(halfSignalT(makeSchedule('linear'))).toBeLessThan(300);
  });

  test('firstTBelow and firstTAbove scan t = 1…T and return −1 when nothing crosses', () => {
    const values = [100, 5, 3, 1, 0.5];
    expect(firstTBelow(values, 2)).toBe(3);
    expect(firstTBelow(values, 0.1)).toBe(-1);
    expect(firstTAbove([0, 1, 2, 3], 1.5)).toBe(2);
    expect(firstTAbove([0, 1, 2, 3], 10)).toBe(-1);
    // Index 0 is never considered.
    expect(firstTBelow([0, 5], 1)).toBe(-1);
  });

  test('nearlyPureNoiseSteps counts t with ᾱ_t below 1e-3 (and a custom threshold)', () => {
    expect(NEARLY_PURE_NOISE_ALPHA_BAR).toBe(1e-3);
    for (const kind of ['linear', 'cosine'] as const) {
      const s = makeSchedule(kind);
      let count = 0;
      for (let t = 1; t <= s.T; t++) if (s.alphaBar[t] < 1e-3) count++;
      expect(nearlyPureNoiseSteps(s)).toBe(count);
      expect(nearlyPureNoiseSteps(s, 0.5)).toBe(s.T - halfSignalT(s) + 1);
    }
    // The linear schedule spends many more steps near pure noise than the cosine one (Nichol & Dhariwal 2021, §3.2).
    expect(nearlyPureNoiseSteps(makeSchedule('linear'))).toBeGreaterThan(
      5 * nearlyPureNoiseSteps(makeSchedule('cosine')),
    );
  });
});
