import { describe, expect, it } from 'vitest';
import { SAMPLER_LABELS, SAMPLER_NAMES, nfeOf, rmsDistance, stepsForNfe } from '../../src/core/samplerInfo';

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
