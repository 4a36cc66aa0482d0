/**
 * A check on a generated digit's shape that does not ask the classifier: how much ink it has and into how many
 * separate strokes (8-connected groups of ink pixels) that ink falls. Real handwritten digits are mostly one or two
 * strokes with a moderate amount of ink; the broken shapes that strong guidance produces are often scattered
 * fragments, or blots. The classifier can still name them confidently, because it only chooses among ten classes.
 * The range of each measure is taken from the held-out digits at build time (`shapeRange`), so "unlike a real
 * digit" means "outside what almost all held-out digits do", not a threshold picked by hand.
 */

export interface ShapeStats {
  /** Share of pixels that are ink. */
  ink: number;
  /** Separate strokes: 8-connected groups of at least `MIN_STROKE` ink pixels. */
  strokes: number;
}

export interface ShapeRange {
  /** The ink share of the held-out digits, low and high quantile. */
  inkLo: number;
  inkHi: number;
  /** Most strokes a held-out digit has, at the high quantile. */
  maxStrokes: number;
  /** The quantile used (e.g. 0.99) and how many digits were measured. */
  quantile: number;
  count: number;
}

/** Groups smaller than this are specks, not strokes. */
export const MIN_STROKE = 3;

/** Ink share and stroke count of one w × h image whose ink is the values above `threshold`. */
export function shapeStats(pixels: ArrayLike<number>, offset: number, width: number, height: number, threshold: number): ShapeStats {
  const n = width * height;
  const ink = new Uint8Array(n);
  let inked = 0;
  for (let i = 0; i < n; i++) if (pixels[offset + i] > threshold) (ink[i] = 1), inked++;
  const seen = new Uint8Array(n);
  const stack: number[] = [];
  let strokes = 0;
  for (let start = 0; start < n; start++) {
    if (!ink[start] || seen[start]) continue;
    let size = 0;
    seen[start] = 1;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      size++;
      const x = p % width, y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const q = ny * width + nx;
          if (ink[q] && !seen[q]) (seen[q] = 1), stack.push(q);
        }
      }
    }
    if (size >= MIN_STROKE) strokes++;
  }
  return { ink: inked / n, strokes };
}

/** The `q` quantile of sorted numbers (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length - 1e-9) - 1))];
}

/** The range of ink share and stroke count that all but (1 − q) of `stats` lie in (q on each side for ink). */
export function shapeRange(stats: readonly ShapeStats[], q = 0.99): ShapeRange {
  if (!stats.length) throw new RangeError('shapeRange needs at least one digit');
  const inks = stats.map((s) => s.ink).sort((a, b) => a - b);
  const strokes = stats.map((s) => s.strokes).sort((a, b) => a - b);
  return { inkLo: quantile(inks, 1 - q), inkHi: quantile(inks, q), maxStrokes: quantile(strokes, q), quantile: q, count: stats.length };
}

/** Whether a shape lies within the held-out digits' range (no stroke at all never does). */
export function digitLike(s: ShapeStats, r: ShapeRange): boolean {
  return s.strokes >= 1 && s.strokes <= r.maxStrokes && s.ink >= r.inkLo && s.ink <= r.inkHi;
}
