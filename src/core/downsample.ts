/** Large series without spreading them into calls (a stack overflow past ~100k arguments): extent and thinning for charts and restored histories. */

/** [min, max] of `values` by a loop (a spread into Math.min overflows the call stack on large arrays); [∞, −∞] when empty. */
export function extent(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * At most `max` (≥ 4) of `points`, in order: the first and the last, and between them, per equal bucket of the
 * points in between, the lowest and the highest reading — so a spike survives the thinning. Fewer points than
 * `max` come back as a copy.
 */
export function downsampleMinMax<P extends readonly [number, number]>(points: readonly P[], max: number): P[] {
  const n = points.length;
  if (n <= max) return points.slice();
  const inner = n - 2;
  const buckets = Math.max(1, Math.floor((Math.max(4, max) - 2) / 2));
  const out: P[] = [points[0]];
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor((b * inner) / buckets);
    const to = 1 + Math.floor(((b + 1) * inner) / buckets);
    if (from >= to) continue;
    let iLo = from;
    let iHi = from;
    for (let i = from + 1; i < to; i++) {
      if (points[i][1] < points[iLo][1]) iLo = i;
      if (points[i][1] > points[iHi][1]) iHi = i;
    }
    if (iLo === iHi) out.push(points[iLo]);
    else if (iLo < iHi) out.push(points[iLo], points[iHi]);
    else out.push(points[iHi], points[iLo]);
  }
  out.push(points[n - 1]);
  return out;
}

/** Most (step, loss) readings a loss history keeps: a restored one is thinned to this, a live one when it doubles. */
export const LOSS_HISTORY_CAP = 20_000;

/**
 * Append `point` to `history` in place, and when the history reaches twice `cap`, thin it to `cap` by
 * downsampleMinMax (so a run of any length keeps a bounded history at an O(1) amortised cost per reading).
 * Returns the history to keep: `history` itself, or the thinned copy.
 */
export function appendCapped<P extends readonly [number, number]>(history: P[], point: P, cap = LOSS_HISTORY_CAP): P[] {
  history.push(point);
  return history.length >= 2 * cap ? downsampleMinMax(history, cap) : history;
}
