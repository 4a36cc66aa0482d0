/**
 * The training lab's live estimate of when digits appear: the step at which the benchmark saw the preset draw digits
 * (`npm run bench -- lab` writes labDigits.json: the bare loop's steps_to_digits with the default settings) divided
 * by the speed this device measures now.
 */
import LAB_DIGITS from './labDigits.json';

export interface DigitsEstimate {
  /** The step by which the preset's samples were digits in the benchmark. */
  step: number;
  /** Training seconds to reach that step at the measured speed, from step 0. */
  seconds: number;
  /** Seconds still to go from the current step (0 once it is passed). */
  secondsLeft: number;
  /** Whether the run has already passed that step. */
  passed: boolean;
}

/** The benchmark's steps_to_digits of a preset, or null when it has none (it did not reach digits in the benchmark's time). */
export function stepsToDigits(size: string, table: Record<string, { steps_to_digits: number | null }> = LAB_DIGITS): number | null {
  const v = table[size]?.steps_to_digits;
  return typeof v === 'number' && v > 0 ? v : null;
}

/** When digits are likely at `stepsPerSecond`, from `step`; null without a figure or a measured speed. */
export function digitsEstimate(digitsStep: number | null, step: number, stepsPerSecond: number): DigitsEstimate | null {
  if (digitsStep === null || !(stepsPerSecond > 0) || !Number.isFinite(stepsPerSecond)) return null;
  const left = Math.max(0, digitsStep - step);
  return { step: digitsStep, seconds: digitsStep / stepsPerSecond, secondsLeft: left / stepsPerSecond, passed: step >= digitsStep };
}

/** Whole seconds below two minutes, else minutes and seconds ("about 45 s", "about 2 min 10 s"). */
export function aboutSeconds(s: number): string {
  const r = Math.max(1, Math.round(s));
  return r < 120 ? `${r} s` : `${Math.floor(r / 60)} min ${String(r % 60).padStart(2, '0')} s`;
}

/** The sentence the lab shows (plain text). */
export function digitsSentence(e: DigitsEstimate): string {
  if (e.passed) return `Samples of this model usually read as digits by step ${e.step.toLocaleString('en')}, which this run has passed.`;
  return `At this speed, digits usually appear after about ${aboutSeconds(e.seconds)} of training (step ${e.step.toLocaleString('en')}), about ${aboutSeconds(e.secondsLeft)} from now.`;
}
