import { describe, expect, it } from 'vitest';
import { aboutSeconds, digitsEstimate, digitsSentence, stepsToDigits } from '../../../src/widgets/lib/labEstimate';
import LAB_DIGITS from '../../../src/widgets/lib/labDigits.json';

describe('the training lab’s estimate of when digits appear', () => {
  it('divides the benchmark’s step by the measured speed and counts down from the current step', () => {
    const e = digitsEstimate(600, 150, 7.5)!;
    expect(e).toEqual({ step: 600, seconds: 80, secondsLeft: 60, passed: false });
    expect(digitsSentence(e)).toBe('At this speed, digits usually appear after about 80 s of training (step 600), about 60 s from now.');
  });

  it('says the step has been passed once the run is beyond it', () => {
    const e = digitsEstimate(600, 1200, 3)!;
    expect(e.passed).toBe(true);
    expect(e.secondsLeft).toBe(0);
    expect(digitsSentence(e)).toBe('Samples of this model usually read as digits by step 600, which this run has passed.');
  });

  it('gives nothing without a measured speed or without a benchmark figure', () => {
    expect(digitsEstimate(600, 0, 0)).toBeNull();
    expect(digitsEstimate(600, 0, Number.NaN)).toBeNull();
    expect(digitsEstimate(null, 0, 5)).toBeNull();
    expect(stepsToDigits('tiny', { tiny: { steps_to_digits: null } })).toBeNull();
    expect(stepsToDigits('huge', { tiny: { steps_to_digits: 300 } })).toBeNull();
    expect(stepsToDigits('tiny', { tiny: { steps_to_digits: 300 } })).toBe(300);
  });

  it('reads the preset’s figure from the benchmark’s file', () => {
    for (const [size, v] of Object.entries(LAB_DIGITS)) expect(stepsToDigits(size)).toBe(v.steps_to_digits);
  });

  it('writes seconds as whole seconds under two minutes and as minutes and seconds above', () => {
    expect(aboutSeconds(44.6)).toBe('45 s');
    expect(aboutSeconds(0.2)).toBe('1 s');
    expect(aboutSeconds(130)).toBe('2 min 10 s');
  });
});
