import { describe, expect, it } from 'vitest';
import { formatSig } from '../../src/core/format';

describe('formatSig', () => {
  it('gives 4 significant digits without trailing zeros, with a true minus', () => {
    expect(formatSig(0.012345)).toBe('0.01235');
    expect(formatSig(-1.5)).toBe('−1.5');
    expect(formatSig(12345.6)).toBe('12350');
    expect(formatSig(0)).toBe('0');
    expect(formatSig(1 / 3, { digits: 2 })).toBe('0.33');
  });

  it('switches to scientific notation below 10⁻³ and from 10⁵, with no "+" in the exponent', () => {
    expect(formatSig(2.5e-5)).toBe('2.50e−5');
    expect(formatSig(-2.5e-5)).toBe('−2.50e−5');
    expect(formatSig(123456)).toBe('1.23e5');
    expect(formatSig(20000, { digits: 3, sciFrom: 1e4, sciDigits: 0 })).toBe('2e4');
    expect(formatSig(0.001)).toBe('0.001');
  });

  it('keeps trailing zeros and ASCII minus when asked (the terminal progress line)', () => {
    expect(formatSig(0.1, { trailingZeros: true })).toBe('0.1000');
    expect(formatSig(0, { trailingZeros: true })).toBe('0.000');
    expect(formatSig(-2.5e-5, { ascii: true })).toBe('-2.50e-5');
  });

  it('writes non-finite values as ∞, −∞ and —', () => {
    expect([formatSig(Infinity), formatSig(-Infinity), formatSig(NaN)]).toEqual(['∞', '−∞', '—']);
  });
});
