import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  clippedBetaSteps,
  crossAttentionParams,
  formatNumber,
  getPath,
  lossSummary,
  manifestParamCount,
  minSnrMeanWeight,
  noiseImage,
  pixelStats,
  scheduleValue,
  totalParams,
  unetParamBreakdown,
} from '../../src/components/lesson/values';
import { makeSchedule } from '../../src/core/schedules';
import { countUNetParams, createUNet, LATENT_UNET_CONFIG, MNIST_UNET_CONFIG, type UNetConfig } from '../../src/core/unet';

/** Independent float64 reference: ᾱ_t for t = 0…T from the papers' formulas (Ho et al. 2020; Nichol & Dhariwal 2021 eq. 17). */
function referenceAlphaBar(kind: 'linear' | 'cosine', T = 1000): { beta: number[]; alphaBar: number[] } {
  const beta = [0];
  for (let t = 1; t <= T; t++) {
    if (kind === 'linear') beta.push(1e-4 + ((0.02 - 1e-4) * (t - 1)) / (T - 1));
    else {
      const f = (u: number) => Math.cos(((u / T + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      beta.push(Math.min(0.999, 1 - f(t) / f(t - 1)));
    }
  }
  const alphaBar = [1];
  for (let t = 1; t <= T; t++) alphaBar.push(alphaBar[t - 1] * (1 - beta[t]));
  return { beta, alphaBar };
}

describe('scheduleValue', () => {
  it('returns the linear and cosine ᾱ_t, √ᾱ_t and 1 − ᾱ_t of an independent float64 computation', () => {
    for (const kind of ['linear', 'cosine'] as const) {
      const ref = referenceAlphaBar(kind);
      for (const t of [0, 1, 10, 250, 500, 777, 999, 1000]) {
        expect(scheduleValue(kind, 'alphaBar', t)).toBeCloseTo(ref.alphaBar[t], 12);
        expect(scheduleValue(kind, 'sqrtAlphaBar', t)).toBeCloseTo(Math.sqrt(ref.alphaBar[t]), 12);
        expect(scheduleValue(kind, 'oneMinusAlphaBar', t)).toBeCloseTo(1 - ref.alphaBar[t], 12);
        expect(scheduleValue(kind, 'beta', t)).toBeCloseTo(ref.beta[t], 12);
        expect(scheduleValue(kind, 'sqrtBeta', t)).toBeCloseTo(Math.sqrt(ref.beta[t]), 12);
      }
    }
  });

  it('finds where ᾱ first drops below one half by scanning the reference', () => {
    for (const kind of ['linear', 'cosine'] as const) {
      const { alphaBar } = referenceAlphaBar(kind);
      const expected = alphaBar.findIndex((a, t) => t >= 1 && a < 0.5);
      expect(scheduleValue(kind, 'halfSignalT')).toBe(expected);
    }
  });

  it('counts the near-pure-noise steps (ᾱ < 10⁻³) and the clipped β of the reference', () => {
    for (const kind of ['linear', 'cosine'] as const) {
      const { alphaBar, beta } = referenceAlphaBar(kind);
      expect(scheduleValue(kind, 'nearlyPureNoiseSteps')).toBe(alphaBar.filter((a, t) => t >= 1 && a < 1e-3).length);
      expect(scheduleValue(kind, 'clippedBetaSteps')).toBe(beta.filter((b, t) => t >= 1 && b >= 0.999).length);
    }
    expect(clippedBetaSteps(makeSchedule('linear', 1000))).toBe(0);
    expect(clippedBetaSteps(makeSchedule('cosine', 1000))).toBeGreaterThan(0);
  });

  it('derives √SNR and β̃_t/β_t from ᾱ as the papers define them', () => {
    const { alphaBar, beta } = referenceAlphaBar('linear');
    for (const t of [2, 10, 500, 1000]) {
      expect(scheduleValue('linear', 'sqrtSnr', t)).toBeCloseTo(Math.sqrt(alphaBar[t] / (1 - alphaBar[t])), 9);
      const betaTilde = (beta[t] * (1 - alphaBar[t - 1])) / (1 - alphaBar[t]);
      expect(scheduleValue('linear', 'betaTildeOverBeta', t)).toBeCloseTo(betaTilde / beta[t], 12);
    }
    expect(scheduleValue('linear', 'sqrtSnr', 0)).toBe(Infinity);
  });

  it('gives both DDPM choices of σ_t and how far apart they put x_{t−1} in grey levels per unit of z', () => {
    const { alphaBar, beta } = referenceAlphaBar('linear');
    for (const t of [2, 10, 100, 1000]) {
      const betaTilde = (beta[t] * (1 - alphaBar[t - 1])) / (1 - alphaBar[t]);
      expect(scheduleValue('linear', 'sqrtBetaTilde', t)).toBeCloseTo(Math.sqrt(betaTilde), 12);
      expect(scheduleValue('linear', 'sigmaGapGrey', t)).toBeCloseTo((Math.sqrt(beta[t]) - Math.sqrt(betaTilde)) * 127.5, 9);
    }
    // The figures lesson 4 states: under half a grey level at t = 2, about a sixth at t = 10.
    expect(scheduleValue('linear', 'sigmaGapGrey', 2)).toBeCloseTo(0.4547, 3);
    expect(scheduleValue('linear', 'sigmaGapGrey', 10)).toBeCloseTo(0.163, 3);
  });

  it('finds the steps whose SNR is at most a level, and the first of them', () => {
    for (const [kind, level] of [['linear', 5], ['cosine', 1]] as const) {
      const { alphaBar } = referenceAlphaBar(kind);
      const at = alphaBar.map((a, t) => t >= 1 && a / (1 - a) <= level);
      expect(scheduleValue(kind, 'stepsSnrAtMost', undefined, 1000, level)).toBe(at.filter(Boolean).length);
      expect(scheduleValue(kind, 'firstTSnrAtMost', undefined, 1000, level)).toBe(at.indexOf(true));
    }
    expect(scheduleValue('linear', 'stepsSnrAtMost', undefined, 1000, 5)).toBe(870);
    expect(() => scheduleValue('linear', 'stepsSnrAtMost')).toThrow(RangeError);
  });

  it('rejects a missing or out-of-range t instead of rendering a wrong number', () => {
    expect(() => scheduleValue('linear', 'alphaBar')).toThrow(RangeError);
    expect(() => scheduleValue('linear', 'alphaBar', 1001)).toThrow(RangeError);
    expect(() => scheduleValue('linear', 'alphaBar', 2.5)).toThrow(RangeError);
    expect(() => scheduleValue('linear', 'betaTildeOverBeta', 0)).toThrow(RangeError);
  });
});

describe('formatNumber', () => {
  it('typesets decimals, thousands, true minus signs, infinity and percentages', () => {
    expect(formatNumber(0.5)).toBe('0.500');
    expect(formatNumber(0.52409, { digits: 2 })).toBe('0.52');
    expect(formatNumber(-2.4619)).toBe('−2.462');
    expect(formatNumber(474689)).toBe('474,689');
    expect(formatNumber(1234567.891, { digits: 1 })).toBe('1,234,567.9');
    expect(formatNumber(Infinity)).toBe('∞');
    expect(formatNumber(-Infinity)).toBe('−∞');
    expect(formatNumber(Number.NaN)).toBe('—');
    expect(formatNumber(0.1234, { percent: true, digits: 1 })).toBe('12.3%');
    expect(formatNumber(0.0004, { percent: true })).toBe('0.04%');
  });

  it('never rounds a decay, probability or ratio onto 0, ±1, 0 % or 100 % unless it is exactly that', () => {
    expect(formatNumber(0.9995, { digits: 3 })).toBe('0.9995');
    expect(formatNumber(0.9995, { percent: true })).toBe('99.95%');
    expect(formatNumber(0.99999, { digits: 2 })).toBe('0.99999');
    expect(formatNumber(1.0004, { digits: 2 })).toBe('1.0004');
    expect(formatNumber(-0.9996, { digits: 3 })).toBe('−0.9996');
    expect(formatNumber(0.004, { digits: 2 })).toBe('0.004');
    expect(formatNumber(1, { digits: 3 })).toBe('1.000');
    expect(formatNumber(0, { digits: 2 })).toBe('0.00');
    expect(formatNumber(1, { percent: true })).toBe('100%');
    expect(formatNumber(0.6, { digits: 0, bounds: [] })).toBe('1'); // a caller may lift the guard
    expect(formatNumber(0.996, { digits: 1, percent: true })).toBe('99.6%');
    expect(formatNumber(0.0101, { digits: 0, percent: true })).toBe('1%'); // 1 % is not a bound of a percentage
    // A sweep over values near the bounds at every precision the lessons use.
    const near = [1e-9, 1e-6, 4e-4, 0.004, 0.0049, 0.4, 0.6, 0.95, 0.996, 0.9995, 0.99999, 0.9999999, 1.0000001, 1.0004, 1.004];
    for (const v of [...near, ...near.map((x) => -x)]) {
      for (const digits of [0, 1, 2, 3, 4]) {
        const text = formatNumber(v, { digits, sciBelow: 0 });
        const shown = Number(text.replace('−', '-').replace(/,/g, ''));
        expect([0, 1, -1].includes(shown), `${v} with ${digits} digits shows ${text}`).toBe(false);
        const pct = formatNumber(v, { digits, percent: true });
        const shownPct = Number(pct.replace('−', '-').replace('%', ''));
        expect([0, 100].includes(shownPct), `${v} as a percentage with ${digits} digits shows ${pct}`).toBe(false);
      }
    }
  });

  it('switches to m × 10ⁿ below 10⁻³ and never prints a negative zero', () => {
    expect(formatNumber(4.0358e-5)).toBe('4.04 × 10⁻⁵');
    expect(formatNumber(-0.00042, { sig: 2 })).toBe('−4.2 × 10⁻⁴');
    expect(formatNumber(2.429e-9, { sig: 2 })).toBe('2.4 × 10⁻⁹');
    expect(formatNumber(-0, { digits: 2, sciBelow: 0 })).toBe('0.00');
    expect(formatNumber(-0.0004, { digits: 2, sciBelow: 0 })).toBe('−0.0004');
    expect(formatNumber(0)).toBe('0');
  });
});

describe('getPath', () => {
  it('follows dotted keys, array indices, "last" and [bracketed keys with dots], and returns undefined for anything missing', () => {
    const data = { unet: { ddim: { '50': { fd: 3.2 } } }, history: [[25, 1.1], [50, 0.4]] };
    expect(getPath(data, 'unet.ddim.50.fd')).toBe(3.2);
    expect(getPath(data, 'history.1.0')).toBe(50);
    expect(getPath(data, 'history.last.1')).toBe(0.4);
    expect(getPath(data, 'unet.ddpm.1000.fd')).toBeUndefined();
    expect(getPath(data, 'unet.ddim.50.fd.deeper')).toBeUndefined();
    expect(getPath(undefined, 'a')).toBeUndefined();
    expect(getPath({ g: { 'w=0.5': { share: 0.9 } } }, 'g[w=0.5].share')).toBe(0.9);
    expect(getPath({ g: { 'w=0.5': { share: 0.9 } } }, 'g.w=0.5.share')).toBeUndefined();
    expect(getPath({}, 'toString')).toBeUndefined();
  });
});

describe('unetParamBreakdown', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  const SMALL: UNetConfig = { inputShape: [8, 8, 2], channels: [8, 16], numResBlocks: 2, attention: false, tembDim: 16, groups: 4, numClasses: 0 };
  /** Text-conditioned: cross-attention after every res block and after the middle, no self-attention there. */
  const TEXT: UNetConfig = { ...SMALL, numResBlocks: 1, crossAttention: { contextDim: 12, heads: 2 } };
  const TEXT_LATENT: UNetConfig = { ...LATENT_UNET_CONFIG, numClasses: 0, crossAttention: { contextDim: 64, heads: 4 } };

  it('counts exactly the variables createUNet allocates, part by part', () => {
    for (const config of [MNIST_UNET_CONFIG, LATENT_UNET_CONFIG, SMALL, TEXT, TEXT_LATENT]) {
      const unet = createUNet(config, 7);
      try {
        const actual = new Map<string, number>();
        for (const [name, v] of unet.params) {
          const key = name.split('.')[0];
          actual.set(key, (actual.get(key) ?? 0) + v.size);
        }
        const parts = unetParamBreakdown(config);
        expect(new Map(parts.map((p) => [p.key, p.params]))).toEqual(actual);
        expect(totalParams(parts)).toBe(unet.paramCount());
        expect(totalParams(parts)).toBe(countUNetParams(config));
      } finally {
        unet.dispose();
      }
    }
  });

  it('counts the cross-attention layers createUNet places, one after every res block and one after the middle', () => {
    for (const config of [TEXT, TEXT_LATENT]) {
      const unet = createUNet(config, 7);
      try {
        let params = 0;
        const layers = new Set<string>();
        for (const [name, v] of unet.params) {
          const m = /^(.*xattn\d*)\./.exec(name);
          if (!m) continue;
          layers.add(m[1]);
          params += v.size;
        }
        expect(crossAttentionParams(config)).toEqual({ layers: layers.size, params });
      } finally {
        unet.dispose();
      }
    }
    expect(crossAttentionParams(TEXT).layers).toBe(5);
    expect(crossAttentionParams(SMALL)).toEqual({ layers: 0, params: 0 });
    // One layer at 64 channels reading 64-wide states by hand: GroupNorm (2 · 64), q and out (64 → 64), k and v (64 → 64).
    expect(crossAttentionParams(TEXT_LATENT)).toEqual({ layers: 3, params: 3 * (2 * 64 + 4 * (64 * 64 + 64)) });
    expect(unetParamBreakdown(TEXT).map((p) => p.key)).toEqual(['time', 'in', 'down0', 'down1', 'mid', 'up1', 'up0', 'out']);
  });

  it('lists the parts in the order the input flows through them, with their resolutions and channels', () => {
    const THREE_LEVELS: UNetConfig = { inputShape: [28, 28, 1], channels: [32, 64, 64], numResBlocks: 1, attention: true, tembDim: 64, groups: 8, numClasses: 10 };
    const parts = unetParamBreakdown(THREE_LEVELS);
    expect(parts.map((p) => p.key)).toEqual(['time', 'class', 'in', 'down0', 'down1', 'down2', 'mid', 'up2', 'up1', 'up0', 'out']);
    expect(parts.map((p) => p.resolution)).toEqual([null, null, '28×28', '28×28', '14×14', '7×7', '7×7', '7×7', '14×14', '28×28', '28×28']);
    expect(parts.find((p) => p.key === 'down1')?.channels).toEqual([32, 64]);
    expect(parts.find((p) => p.key === 'up0')?.channels).toEqual([64, 32]);
    expect(parts.find((p) => p.key === 'out')?.channels).toEqual([32, 1]);
    // Attention at 64 channels by hand: GroupNorm γ, β (2 · 64) and four dense 64 → 64 layers with bias.
    expect(parts.find((p) => p.key === 'mid')?.params).toBe(2 * 64 + 4 * (64 * 64 + 64));
  });
});

describe('noiseImage', () => {
  it('mixes x_0 and ε as √ᾱ x_0 + √(1 − ᾱ) ε, matching a float64 computation to float32 precision', () => {
    const x0 = [-1, -0.5, 0, 0.25, 1];
    const eps = [0.3, -1.2, 2.0, 0.0, -0.7];
    const a = 0.3;
    const out = noiseImage(x0, eps, a);
    x0.forEach((x, i) => expect(out[i]).toBeCloseTo(Math.sqrt(a) * x + Math.sqrt(1 - a) * eps[i], 6));
    expect(Array.from(noiseImage(x0, eps, 1))).toEqual(x0.map((v) => Math.fround(v)));
    expect(() => noiseImage([1, 2], [1], 0.5)).toThrow(RangeError);
  });
});

describe('loss helpers', () => {
  it('summarise a logged loss history by its first value, the mean of its tail and its minimum', () => {
    const history = [[25, 1.0], [50, 0.5], [75, 0.2], [100, 0.1], [125, 0.3]];
    const s = lossSummary(history, 2);
    expect(s).toEqual({ firstStep: 25, firstLoss: 1.0, lastStep: 125, finalLoss: (0.1 + 0.3) / 2, minLoss: 0.1 });
    expect(lossSummary([])).toBeNull();
    expect(lossSummary(undefined)).toBeNull();
    expect(lossSummary([[1, 'x']])).toBeNull();
  });
});

describe('minSnrMeanWeight', () => {
  it('is E_t[min(SNR_t, γ)/SNR_t] over t = 1…T, 1 without weighting', () => {
    const { alphaBar } = referenceAlphaBar('linear');
    let sum = 0;
    for (let t = 1; t <= 1000; t++) {
      const snr = alphaBar[t] / (1 - alphaBar[t]);
      sum += Math.min(snr, 5) / snr;
    }
    expect(minSnrMeanWeight('linear', 1000, 5)).toBeCloseTo(sum / 1000, 9);
    expect(minSnrMeanWeight('linear', 1000, 5)).toBeCloseTo(0.913, 3);
    expect(minSnrMeanWeight('linear', 1000, 0)).toBe(1);
  });
});

describe('pixelStats and manifestParamCount', () => {
  it('measure pixels on the [−1, 1] scale', () => {
    const s = pixelStats([0, 255]);
    expect(s.mean).toBeCloseTo(0, 12);
    expect(s.std).toBeCloseTo(1, 12);
    expect(pixelStats([0, 0, 0, 255]).mean).toBeCloseTo(-0.5, 12);
  });

  it('count the values of every weight in a model.json', () => {
    const json = { weightsManifest: [{ weights: [{ shape: [3, 3, 1, 16] }, { shape: [16] }] }, { weights: [{ shape: [] }] }] };
    expect(manifestParamCount(json)).toBe(144 + 16 + 1);
    expect(() => manifestParamCount({})).toThrow(/weightsManifest/);
  });
});
