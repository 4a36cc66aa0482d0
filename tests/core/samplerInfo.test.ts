import { describe, expect, it } from 'vitest';
import { SAMPLER_LABELS, SAMPLER_NAMES, keptStepIndices, nearestFrame, nfeOf, rmsDistance, stepsForNfe } from '../../src/core/samplerInfo';

describe('sampler costs', () => {
  it('count one network evaluation per step, two for Heun but one on its last step, and T for DDPM', () => {
    expect(nfeOf('ddim', 20)).toBe(20);
    expect(nfeOf('dpmpp2m', 7)).toBe(7);
    expect(nfeOf('heun', 1)).toBe(1);
    expect(nfeOf('heun', 10)).toBe(19);
    expect(nfeOf('ddpm', 50)).toBe(1000);
    expect(() => nfeOf('euler', 0)).toThrow(RangeError);
  });

  it('give the most steps a budget of evaluations pays for, never over it', () => {
    for (const name of SAMPLER_NAMES) {
      if (name === 'ddpm') continue;
      for (const nfe of [1, 2, 5, 10, 19, 20, 50]) {
        const steps = stepsForNfe(name, nfe);
        expect(nfeOf(name, steps)).toBeLessThanOrEqual(nfe);
        expect(nfeOf(name, steps + 1)).toBeGreaterThan(nfe);
      }
    }
    expect(stepsForNfe('heun', 20)).toBe(10);
    expect(stepsForNfe('ddpm', 20)).toBe(1000);
    expect(Object.keys(SAMPLER_LABELS).sort()).toEqual([...SAMPLER_NAMES].sort());
  });

  it('measures the RMS distance between two solutions', () => {
    expect(rmsDistance([0, 0, 0, 0], [1, -1, 1, -1])).toBe(1);
    expect(rmsDistance([1, 2], [1, 2])).toBe(0);
    expect(rmsDistance([3, 0, 9], [0, 0, 100], 2)).toBeCloseTo(Math.sqrt(4.5), 12);
  });
});

describe('trajectory frames', () => {
  it('keeps every step up to the frame count, then evenly spread steps with the first and the last', () => {
    expect(keptStepIndices(0, 25)).toEqual([]);
    expect(keptStepIndices(5, 25)).toEqual([0, 1, 2, 3, 4]);
    const kept = keptStepIndices(1000, 25);
    expect(kept).toHaveLength(25);
    expect(kept[0]).toBe(0);
    expect(kept.at(-1)).toBe(999);
    const gaps = kept.slice(1).map((k, i) => k - kept[i]);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
    expect(keptStepIndices(60, 25)).toHaveLength(25);
  });

  it('finds the frame nearest a timestep (the first of equals), −1 with none', () => {
    const ts = [950, 900, 500, 100, 0];
    expect(nearestFrame(ts, 1000)).toBe(0);
    expect(nearestFrame(ts, 700)).toBe(1); // 900 and 500 are 200 away: the first
    expect(nearestFrame(ts, 480)).toBe(2);
    expect(nearestFrame(ts, 0)).toBe(4);
    expect(nearestFrame([], 10)).toBe(-1);
  });
});
