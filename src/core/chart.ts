/**
 * Chart geometry without a DOM (d3's scales and line generator): axes with their ticks and labels, and SVG path
 * data. The model-card SVG (scripts/lib/svg.ts), the build-time loss curve and the widgets' live charts all draw
 * from here, so the same losses give the same picture everywhere.
 */
import { line, scaleLinear, scaleLog } from 'd3';
import { downsampleMinMax, extent } from './downsample';
import { emaSeries } from './ema';
import { formatSig } from './format';

export { downsampleMinMax, extent };

export type Point = readonly [number, number];

export interface Frame {
  width: number;
  height: number;
  margin: { top: number; right: number; bottom: number; left: number };
}

export interface Tick {
  value: number;
  /** Position along the axis, in the frame's coordinates. */
  at: number;
  label: string;
}

/** A scale (value → coordinate) with its ticks. */
export interface Axis {
  (value: number): number;
  readonly log: boolean;
  readonly domain: readonly [number, number];
  readonly ticks: readonly Tick[];
}

export interface AxisOptions {
  /** Logarithmic scale (the domain must be positive). */
  log?: boolean;
  /** About how many ticks a linear axis gets (default 5); a log axis puts them at every k × 10^n within half a decade, at 1, 2, 3, 5 × 10^n up to 1.5 decades, 1, 2, 5 × 10^n up to 3, and 10^n beyond. */
  ticks?: number;
  /** Explicit tick values instead. */
  tickValues?: readonly number[];
  /** Tick label (default formatSig with 3 significant digits, scientific below 10⁻³ and from 10⁶). */
  label?: (value: number) => string;
  /** Keep values outside the domain at the edge. */
  clamp?: boolean;
}

const defaultLabel = (v: number) => formatSig(v, { digits: 3, sciFrom: 1e6 });

/** Whether a positive number is k × 10^n for one of the digits `ks` (0.30000000000000004 counts as 3 × 10⁻¹). */
function isMultipleOf(v: number, ks: readonly number[]): boolean {
  const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return ks.some((k) => Math.abs(mantissa - k) < 1e-6);
}

/** An axis mapping `domain` onto `range` (for y, pass the range bottom first). */
export function axis(domain: readonly [number, number], range: readonly [number, number], opts: AxisOptions = {}): Axis {
  const log = opts.log ?? false;
  if (log && !(domain[0] > 0 && domain[1] > 0)) throw new RangeError(`a log axis needs a positive domain, got ${domain.join('…')}`);
  const scale = (log ? scaleLog() : scaleLinear()).domain([domain[0], domain[1]]).range([range[0], range[1]]).clamp(opts.clamp ?? false);
  let values: number[];
  if (opts.tickValues) values = [...opts.tickValues];
  else if (log) {
    const decades = Math.log10(domain[1] / domain[0]);
    const keep = decades <= 0.5 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : decades <= 1.5 ? [1, 2, 3, 5] : decades <= 3 ? [1, 2, 5] : [1];
    values = scale.ticks().filter((v) => isMultipleOf(v, keep));
    if (values.length < 2) values = scale.ticks(opts.ticks ?? 5); // a sliver of a decade: d3's linear-style ticks
    values = values.map((v) => Number(v.toPrecision(12)));
  } else values = scale.ticks(opts.ticks ?? 5);
  const label = opts.label ?? defaultLabel;
  const f = (value: number) => scale(value);
  return Object.assign(f, { log, domain: [domain[0], domain[1]] as const, ticks: values.map((value) => ({ value, at: scale(value), label: label(value) })) });
}

/** SVG path data through `points` (one decimal), or '' for none. */
export function pathOf(points: readonly Point[], x: Axis, y: Axis): string {
  return line<Point>().x((p) => x(p[0])).y((p) => y(p[1])).digits(1)(points) ?? '';
}

export interface LossChartOptions {
  /** Smoothed line: EMA with this weight on the past (0: none). */
  smoothing?: number;
  /** Log-scale y (default: when every loss is positive and they span more than a factor of 5). */
  logY?: boolean;
  /** The x axis reaches at least this far (default 1), so a chart with few readings is not a point. */
  minX?: number;
  /** Ticks of the linear x axis (default 6). */
  xTicks?: number;
  /** Tick labels of both axes (default as `axis`). */
  label?: (value: number) => string;
  /** Most points each path draws (min/max per bucket, see `downsampleMinMax`); all of them by default. */
  maxPoints?: number;
}

export interface LossChartGeometry {
  /** The points drawn: finite, and positive on a log axis. */
  points: Point[];
  /** The same steps with the smoothed losses (empty without smoothing). */
  smoothed: Point[];
  x: Axis;
  y: Axis;
  /** Path data of the readings and of the smoothed line. */
  raw: string;
  smooth: string;
}

/** The geometry of a loss-against-step chart in `frame`. */
export function lossChart(readings: readonly Point[], frame: Frame, opts: LossChartOptions = {}): LossChartGeometry {
  const finite = readings.filter(([s, l]) => Number.isFinite(s) && Number.isFinite(l));
  const positive = finite.length > 0 && finite.every(([, l]) => l > 0);
  const losses = finite.map(([, l]) => l);
  const [lo0, hi0] = losses.length ? extent(losses) : [0, 1];
  const logY = opts.logY ?? (positive && hi0 / lo0 > 5);
  const points = logY ? finite.filter(([, l]) => l > 0) : finite;
  const ys = points.map(([, l]) => l);
  const { width, height, margin: m } = frame;
  const [s0, s1] = points.length ? extent(points.map(([s]) => s)) : [0, 0];
  const x = axis([Math.min(0, s0), Math.max(opts.minX ?? 1, s1)], [m.left, width - m.right], { ticks: opts.xTicks ?? 6, label: opts.label });
  let yDomain: [number, number];
  if (logY) {
    const [lo, hi] = ys.length ? extent(ys) : [0.01, 1];
    yDomain = [lo * 0.8, Math.max(hi * 1.2, lo * 2)];
  } else {
    const pad = (hi0 - lo0) * 0.05 || Math.abs(hi0) * 0.1 || 1;
    yDomain = [lo0 >= 0 ? 0 : lo0 - pad, hi0 + pad];
  }
  const y = axis(yDomain, [height - m.bottom, m.top], { log: logY, ticks: 5, clamp: logY, label: opts.label });
  const w = opts.smoothing ?? 0;
  const smoothed: Point[] = w > 0 ? emaSeries(ys, w).map((v, i) => [points[i][0], v]) : [];
  const most = opts.maxPoints ?? Infinity;
  return { points, smoothed, x, y, raw: pathOf(downsampleMinMax(points, most), x, y), smooth: pathOf(downsampleMinMax(smoothed, most), x, y) };
}
