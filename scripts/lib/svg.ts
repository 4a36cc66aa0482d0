/** Node-free SVG writers for model cards: a loss curve with axes and ticks. Returns the SVG text. */

export interface LossCurveOptions {
  width?: number;
  height?: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Log-scale y axis (default: true when all losses are positive and span more than a factor of 5). */
  logY?: boolean;
  /** A second, smoothed line: exponential moving average with this weight on the past (0 disables; default 0 up to 100 points). */
  smoothing?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const err = raw / mag; // in [1, 10): round to the nearest of 1, 2, 5, 10 on a log scale (as d3.ticks)
  const step = mag * (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

/** Exponential moving average with bias correction (as TensorBoard's smoothing). */
export function smooth(values: readonly number[], weight: number): number[] {
  let acc = 0;
  let norm = 0;
  return values.map((v) => {
    acc = weight * acc + (1 - weight) * v;
    norm = weight * norm + (1 - weight);
    return acc / norm;
  });
}

/** An SVG line chart of (step, loss) points; non-finite losses are skipped. */
export function lossCurveSvg(points: readonly (readonly [number, number])[], opts: LossCurveOptions = {}): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 320;
  const m = { left: 64, right: 16, top: opts.title ? 32 : 14, bottom: 44 };
  const pts = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(1, ...xs);
  const positive = ys.length > 0 && ys.every((y) => y > 0);
  const yLo = ys.length ? Math.min(...ys) : 0;
  const yHi = ys.length ? Math.max(...ys) : 1;
  const logY = opts.logY ?? (positive && yHi / yLo > 5);
  if (logY && !positive) throw new Error('lossCurveSvg: a log-scale y axis needs positive losses');
  const fy = logY ? Math.log10 : (v: number) => v;
  let y0 = fy(yLo);
  let y1 = fy(yHi);
  if (logY) {
    y0 = Math.floor(y0 * 2) / 2;
    y1 = Math.ceil(y1 * 2) / 2;
  } else {
    const padY = (y1 - y0) * 0.05 || Math.abs(y1) * 0.1 || 1;
    y0 = Math.min(0, y0 - padY) === 0 && y0 >= 0 ? 0 : y0 - padY;
    y1 += padY;
  }
  if (y1 === y0) y1 = y0 + 1;
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => m.top + (1 - (fy(y) - y0) / (y1 - y0)) * ph;
  const path = (values: readonly number[]) =>
    values.map((y, i) => `${i ? 'L' : 'M'}${sx(xs[i]).toFixed(1)},${sy(y).toFixed(1)}`).join('');

  const yTicks = logY
    ? Array.from({ length: Math.floor(y1) - Math.floor(y0) + 1 }, (_, i) => 10 ** (Math.floor(y0) + i)).flatMap((d) => (y1 - y0 <= 2 ? [d, 2 * d, 5 * d] : [d])).filter((v) => fy(v) >= y0 - 1e-9 && fy(v) <= y1 + 1e-9)
    : niceTicks(y0, y1, 5);
  const xTicks = niceTicks(xMin, xMax, 6);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="${esc(opts.title ?? 'Training loss')}">`);
  parts.push(`<title>${esc(opts.title ?? 'Training loss')}</title>`);
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  if (opts.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(opts.title)}</text>`);
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#444"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 17}" text-anchor="middle" fill="#444">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 8}" text-anchor="middle">${esc(opts.xLabel ?? 'step')}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel ?? (logY ? 'loss (log scale)' : 'loss'))}</text>`);
  if (pts.length) {
    const w = opts.smoothing ?? (pts.length > 100 ? Math.min(0.9, 1 - 20 / pts.length) : 0);
    parts.push(`<path d="${path(ys)}" fill="none" stroke="${w > 0 ? '#9ec5e8' : '#1f6fb2'}" stroke-width="1.5"/>`);
    if (w > 0) parts.push(`<path d="${path(smooth(ys, w))}" fill="none" stroke="#1f6fb2" stroke-width="2"/>`);
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
