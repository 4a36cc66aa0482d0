/** Node-free SVG writers for model cards: a loss curve with axes and ticks (core/chart.ts's geometry). Returns the SVG text. */
import { lossChart } from '../../src/core/chart';

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

/** An SVG line chart of (step, loss) points; non-finite losses are skipped. */
export function lossCurveSvg(points: readonly (readonly [number, number])[], opts: LossCurveOptions = {}): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 320;
  const m = { left: 64, right: 16, top: opts.title ? 32 : 14, bottom: 44 };
  const finite = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (opts.logY && finite.some(([, y]) => y <= 0)) throw new Error('lossCurveSvg: a log-scale y axis needs positive losses');
  const smoothing = opts.smoothing ?? (finite.length > 100 ? Math.min(0.9, 1 - 20 / finite.length) : 0);
  const c = lossChart(finite, { width, height, margin: m }, { logY: opts.logY, smoothing });
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const title = opts.title ?? 'Training loss';
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="${esc(title)}">`);
  parts.push(`<title>${esc(title)}</title>`);
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  if (opts.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(opts.title)}</text>`);
  for (const t of c.y.ticks) {
    const y = t.at.toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${t.label}</text>`);
  }
  for (const t of c.x.ticks) {
    const x = t.at.toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#444"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 17}" text-anchor="middle" fill="#444">${t.label}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 8}" text-anchor="middle">${esc(opts.xLabel ?? 'step')}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel ?? (c.y.log ? 'loss (log scale)' : 'loss'))}</text>`);
  if (c.points.length) {
    parts.push(`<path d="${c.raw}" fill="none" stroke="${c.smooth ? '#9ec5e8' : '#1f6fb2'}" stroke-width="1.5"/>`);
    if (c.smooth) parts.push(`<path d="${c.smooth}" fill="none" stroke="#1f6fb2" stroke-width="2"/>`);
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
