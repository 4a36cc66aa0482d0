/** Number formatting for readouts: 4 significant digits, scientific for very small or large values. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? '∞' : v < 0 ? '−∞' : '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(2).replace('-', '−');
  return Number(v.toPrecision(4)).toString().replace('-', '−');
}
