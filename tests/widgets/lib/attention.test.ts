import { describe, expect, it } from 'vitest';
import { overlayDataUrl, sampleWeights, tokenMap, tokenSums, upsample, type AttentionMaps } from '../../../src/widgets/lib/attention';

/** A made-up attention result: 2 kept steps, 2 layers, 2 samples, 2×2 positions, 3 tokens (the last a pad). */
function maps(): AttentionMaps {
  const [S, L, N, P, T] = [2, 2, 2, 4, 3];
  const value = (s: number, l: number, n: number, p: number, t: number) => (t === 2 ? 0 : t === 0 ? 0.1 * (1 + s + 2 * l + n) + 0.01 * p : 1 - (0.1 * (1 + s + 2 * l + n) + 0.01 * p));
  const all = new Float32Array(S * L * N * P * T);
  const mean = new Float32Array(L * N * P * T);
  for (let s = 0; s < S; s++)
    for (let l = 0; l < L; l++)
      for (let n = 0; n < N; n++)
        for (let p = 0; p < P; p++)
          for (let t = 0; t < T; t++) {
            all[(((s * L + l) * N + n) * P + p) * T + t] = value(s, l, n, p, t);
            mean[((l * N + n) * P + p) * T + t] += value(s, l, n, p, t) / S;
          }
  return { layers: ['a', 'b'], steps: [0, 4], positions: [2, 2], tokens: T, maps: all, mean };
}

describe('attention maps for display', () => {
  it('picks one sample’s weights at a kept step or the mean of steps, for one layer or the mean of layers', () => {
    const a = maps();
    // step 1, layer 1, sample 1, position 3, token 0: 0.1·(1 + 1 + 2 + 1) + 0.03
    expect(sampleWeights(a, 2, 1, { step: 1, layer: 1 })[3 * 3]).toBeCloseTo(0.53, 6);
    // the mean of the two layers at step 0, sample 0, position 0: (0.1 + 0.3) / 2
    expect(sampleWeights(a, 2, 0, { step: 0, layer: -1 })[0]).toBeCloseTo(0.2, 6);
    // the mean of the steps and layers: (0.1 + 0.2 + 0.3 + 0.4) / 4
    expect(sampleWeights(a, 2, 0, { step: -1, layer: -1 })[0]).toBeCloseTo(0.25, 6);
    tokenMap(sampleWeights(a, 2, 0, { step: -1, layer: -1 }), 3, 0).forEach((v, p) => expect(v).toBeCloseTo(0.25 + 0.01 * p, 6));
  });

  it('checks that each position’s weights sum to 1 over the real tokens and leave the pads at 0', () => {
    const w = sampleWeights(maps(), 2, 1, { step: 1, layer: 0 });
    const sums = tokenSums(w, 3, 2);
    expect(sums.min).toBeCloseTo(1, 6);
    expect(sums.max).toBeCloseTo(1, 6);
    expect(sums.padMax).toBe(0);
    // Counting the pad as real changes nothing; counting one token fewer does.
    expect(tokenSums(w, 3, 1).max).toBeLessThan(1);
  });

  it('upsamples bilinearly with pixel centres aligned and draws the map over the digit as an RGB PNG', () => {
    expect(Array.from(upsample([2, 2, 2, 2], 2, 2, 4, 4))).toEqual(new Array(16).fill(2));
    const up = upsample([0, 1, 0, 1], 2, 2, 4, 4);
    expect(Array.from(up.subarray(0, 4))).toEqual([0, 0.25, 0.75, 1]);
    const url = overlayDataUrl(new Float32Array(784).fill(-1), 0, new Float32Array(49).fill(0.5), 7, 7, 1);
    expect(url).toMatch(/^data:image\/png;base64,/);
    const bytes = Uint8Array.from(atob(url.slice(22)), (c) => c.charCodeAt(0));
    expect(bytes[25]).toBe(2); // colour type: truecolour
  });
});
