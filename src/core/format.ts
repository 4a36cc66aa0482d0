/**
 * The number formatter for readouts, logs and chart ticks (widgets, the training progress line, model-card
 * charts): `digits` significant digits, scientific notation for very small or large magnitudes, a true minus
 * sign (−) unless ASCII is asked for, '∞' and '—' (NaN) for non-finite values.
 */

export interface SigFormat {
  /** Significant digits (default 4). */
  digits?: number;
  /** Keep trailing zeros: 0.1000 rather than 0.1 (default false). */
  trailingZeros?: boolean;
  /** Scientific notation for non-zero magnitudes below this (default 1e-3)… */
  sciBelow?: number;
  /** …and from this up (default 1e5). */
  sciFrom?: number;
  /** Mantissa decimals in scientific notation (default 2: 1.23e−5). */
  sciDigits?: number;
  /** ASCII '-' instead of '−' (for terminals). */
  ascii?: boolean;
}

/** `v` with `digits` significant digits: formatSig(0.012345) = '0.01235', formatSig(-2.5e-5) = '−2.50e−5'. */
export function formatSig(v: number, o: SigFormat = {}): string {
  const minus = o.ascii ? '-' : '−';
  if (Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : `${minus}∞`;
  const a = Math.abs(v);
  const digits = o.digits ?? 4;
  const s =
    v !== 0 && (a < (o.sciBelow ?? 1e-3) || a >= (o.sciFrom ?? 1e5))
      ? v.toExponential(o.sciDigits ?? 2)
      : o.trailingZeros
        ? v.toPrecision(digits)
        : String(Number(v.toPrecision(digits)));
  return s.replace('e+', 'e').replace(/-/g, minus);
}
