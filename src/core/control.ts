/**
 * The control signal of the ControlNet lab, tfjs-free: a digit's skeleton (our analogue of the Canny edge maps and
 * scribbles ControlNet is conditioned on; Zhang et al. 2023, §4), the measures of how well a sample follows it, a
 * brush that turns a reader's strokes into a 28×28 image, and a compact text form of a 28×28 mask for the URL.
 *
 * The hint of an image is thin(ink mask): pixels ≥ INK_THRESHOLD (128 of 255) are ink, Zhang–Suen thinning
 * (src/core/captions.ts) reduces every stroke to a one-pixel-wide, 8-connected curve. Training digits and a reader's
 * drawing go through the same function, so a drawn stroke and a training hint look alike whatever the brush width.
 */
import { INK_THRESHOLD, inkMask, thin } from './captions';
import { MNIST_COLS, MNIST_PIXELS, MNIST_ROWS } from './mnistFormat';

/** The 0/1 skeleton (28×28, row-major) of the image at `offset` in `pixels` (0 … 255, white ink). */
export function controlHint(pixels: ArrayLike<number>, offset = 0, threshold = INK_THRESHOLD): Uint8Array {
  return thin(inkMask(pixels, offset, threshold, MNIST_PIXELS), MNIST_COLS, MNIST_ROWS);
}

/** Skeletons of `count` consecutive 28×28 images: count·784 bytes of 0/1. */
export function controlHints(images: ArrayLike<number>, count: number, offsetStart = 0): Uint8Array {
  const out = new Uint8Array(count * MNIST_PIXELS);
  for (let i = 0; i < count; i++) out.set(controlHint(images, offsetStart + i * MNIST_PIXELS), i * MNIST_PIXELS);
  return out;
}

/** Chebyshev distance transform of a 0/1 mask: for every pixel, max(|dx|, |dy|) to the nearest on pixel (Infinity when none). */
export function chessboardDistance(mask: ArrayLike<number>, w = MNIST_COLS, h = MNIST_ROWS): Float64Array {
  const d = new Float64Array(w * h).fill(Infinity);
  for (let i = 0; i < w * h; i++) if (mask[i]) d[i] = 0;
  // Two passes of the 8-neighbour chamfer with unit weights give the exact chessboard distance (Rosenfeld & Pfaltz 1966).
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (x > 0) d[i] = Math.min(d[i], d[i - 1] + 1);
      if (y > 0) {
        d[i] = Math.min(d[i], d[i - w] + 1);
        if (x > 0) d[i] = Math.min(d[i], d[i - w - 1] + 1);
        if (x < w - 1) d[i] = Math.min(d[i], d[i - w + 1] + 1);
      }
    }
  }
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const i = y * w + x;
      if (x < w - 1) d[i] = Math.min(d[i], d[i + 1] + 1);
      if (y < h - 1) {
        d[i] = Math.min(d[i], d[i + w] + 1);
        if (x < w - 1) d[i] = Math.min(d[i], d[i + w + 1] + 1);
        if (x > 0) d[i] = Math.min(d[i], d[i + w - 1] + 1);
      }
    }
  }
  return d;
}

export interface SkeletonMatch {
  /** Share of the sample's skeleton pixels within `tolerance` (chessboard) of a hint pixel. */
  precision: number;
  /** Share of the hint's pixels within `tolerance` of a sample skeleton pixel. */
  recall: number;
  /** Their harmonic mean 2PR/(P + R): 1 when every pixel of each has a partner in the other, 0 when none has. */
  f1: number;
}

/**
 * How closely a skeleton follows a hint: precision and recall of on pixels that have a partner within `tolerance`
 * pixels (chessboard distance) in the other, and their F-score — the tolerant matching of the boundary F-measure
 * (Martin, Fowlkes & Malik 2004), on skeletons. Both empty: all three are 1; exactly one empty: 0.
 */
export function skeletonMatch(skeleton: ArrayLike<number>, hint: ArrayLike<number>, tolerance = 1, w = MNIST_COLS, h = MNIST_ROWS): SkeletonMatch {
  const toHint = chessboardDistance(hint, w, h);
  const toSkel = chessboardDistance(skeleton, w, h);
  let nS = 0;
  let nH = 0;
  let hitS = 0;
  let hitH = 0;
  for (let i = 0; i < w * h; i++) {
    if (skeleton[i]) {
      nS++;
      if (toHint[i] <= tolerance) hitS++;
    }
    if (hint[i]) {
      nH++;
      if (toSkel[i] <= tolerance) hitH++;
    }
  }
  if (nS === 0 && nH === 0) return { precision: 1, recall: 1, f1: 1 };
  const precision = nS === 0 ? 0 : hitS / nS;
  const recall = nH === 0 ? 0 : hitH / nH;
  return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
}

/**
 * Symmetric chamfer distance in pixels: the mean, over the on pixels of each mask, of the Euclidean distance to the
 * nearest on pixel of the other, averaged over the two directions (Barrow et al. 1977). 0 for identical masks;
 * Infinity when exactly one is empty, 0 when both are. A direct O(n·m) search: skeletons have ≤ 784 pixels.
 */
export function chamferDistance(a: ArrayLike<number>, b: ArrayLike<number>, w = MNIST_COLS, h = MNIST_ROWS): number {
  const pa: number[] = [];
  const pb: number[] = [];
  for (let i = 0; i < w * h; i++) {
    if (a[i]) pa.push(i);
    if (b[i]) pb.push(i);
  }
  if (pa.length === 0 && pb.length === 0) return 0;
  if (pa.length === 0 || pb.length === 0) return Infinity;
  const meanNearest = (from: number[], to: number[]) => {
    let s = 0;
    for (const i of from) {
      const x = i % w;
      const y = (i - x) / w;
      let best = Infinity;
      for (const j of to) {
        const dx = (j % w) - x;
        const dy = Math.floor(j / w) - y;
        const d2 = dx * dx + dy * dy;
        if (d2 < best) best = d2;
      }
      s += Math.sqrt(best);
    }
    return s / from.length;
  };
  return 0.5 * (meanNearest(pa, pb) + meanNearest(pb, pa));
}

/** A stroke: points (x, y) in pixel units of the 28×28 grid, pixel centres at integer + 0.5. */
export type Stroke = ReadonlyArray<readonly [number, number]>;

/** The default brush radius in pixels: a stroke about 2.6 px wide, like a regular MNIST pen. */
export const BRUSH_RADIUS = 1.3;

/**
 * Rasterise strokes with a round brush into a 28×28 uint8 image (255 = ink): a pixel's value is the coverage of a
 * disc of `radius` swept along each segment, approximated by 1 − clamp(d − radius + 0.5) with d the distance from
 * the pixel centre to the segment (one pixel of antialiasing). A stroke of one point is a dot.
 */
export function rasterizeStrokes(strokes: readonly Stroke[], radius = BRUSH_RADIUS, w = MNIST_COLS, h = MNIST_ROWS): Uint8Array {
  const cover = new Float64Array(w * h);
  const segment = (ax: number, ay: number, bx: number, by: number) => {
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - radius - 1));
    const x1 = Math.min(w - 1, Math.ceil(Math.max(ax, bx) + radius + 1));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by) - radius - 1));
    const y1 = Math.min(h - 1, Math.ceil(Math.max(ay, by) + radius + 1));
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        const s = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
        const d = Math.hypot(px - (ax + s * dx), py - (ay + s * dy));
        const c = Math.max(0, Math.min(1, radius + 0.5 - d));
        const i = y * w + x;
        if (c > cover[i]) cover[i] = c;
      }
    }
  };
  for (const stroke of strokes) {
    const pts = stroke.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) continue;
    if (pts.length === 1) segment(pts[0][0], pts[0][1], pts[0][0], pts[0][1]);
    for (let k = 1; k < pts.length; k++) segment(pts[k - 1][0], pts[k - 1][1], pts[k][0], pts[k][1]);
  }
  const out = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) out[i] = Math.round(255 * cover[i]);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A 0/1 mask of 784 pixels as 131 base64url characters (six pixels a character, row-major); the URL form of a hint. */
export function packMask(mask: ArrayLike<number>, n = MNIST_PIXELS): string {
  let s = '';
  for (let i = 0; i < n; i += 6) {
    let v = 0;
    for (let b = 0; b < 6; b++) v = (v << 1) | (i + b < n && mask[i + b] ? 1 : 0);
    s += B64[v];
  }
  return s;
}

/** The mask back from packMask's text, or null for anything else (wrong length or characters): URL state is never trusted. */
export function unpackMask(text: string, n = MNIST_PIXELS): Uint8Array | null {
  if (typeof text !== 'string' || text.length !== Math.ceil(n / 6)) return null;
  const out = new Uint8Array(n);
  for (let c = 0; c < text.length; c++) {
    const v = B64.indexOf(text[c]);
    if (v < 0) return null;
    for (let b = 0; b < 6; b++) {
      const i = c * 6 + b;
      if (i < n) out[i] = (v >> (5 - b)) & 1;
      else if ((v >> (5 - b)) & 1) return null;
    }
  }
  return out;
}
