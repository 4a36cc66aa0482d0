/**
 * Pure helpers behind the lesson components (build time only, no DOM, no fs): look up and format the numbers a
 * lesson states, so that no number the code can compute is typed by hand. Notation as in src/core/types.ts.
 */
import { pixelToUnit } from '../../core/mnistFormat';
import { halfSignalT, makeSchedule, nearlyPureNoiseSteps } from '../../core/schedules';
import type { Schedule, ScheduleKind } from '../../core/types';
import type { UNetConfig } from '../../core/unet';

/** The per-timestep arrays of a Schedule. */
export const SCHEDULE_ARRAYS = ['beta', 'alpha', 'alphaBar', 'sqrtAlphaBar', 'sqrtOneMinusAlphaBar', 'snr', 'logSnr', 'betaTilde'] as const;
export type ScheduleArrayKey = (typeof SCHEDULE_ARRAYS)[number];

/**
 * Per-timestep quantities derived from the arrays: 1 − ᾱ_t, √β_t, √β̃_t, √SNR_t = √ᾱ_t/√(1−ᾱ_t), β̃_t/β_t, and
 * sigmaGapGrey = (√β_t − √β̃_t) · 127.5: how far apart the two DDPM choices of σ_t put x_{t−1}, per unit of the
 * fresh noise z, in grey levels of a 0…255 image (pixels in [−1, 1] span 255 levels, so one unit is 127.5).
 */
export const DERIVED_PER_T = ['oneMinusAlphaBar', 'sqrtBeta', 'sqrtBetaTilde', 'sqrtSnr', 'betaTildeOverBeta', 'sigmaGapGrey'] as const;
export type DerivedPerTKey = (typeof DERIVED_PER_T)[number];

/**
 * Whole-schedule numbers: where ᾱ first drops below ½, how many steps have ᾱ < 10⁻³, how many β_t hit the clip,
 * T, and (with a `level`) the first t whose SNR_t is at most that level and how many steps have SNR_t ≤ level.
 */
export const SCHEDULE_SCALARS = ['halfSignalT', 'nearlyPureNoiseSteps', 'clippedBetaSteps', 'T', 'firstTSnrAtMost', 'stepsSnrAtMost'] as const;
export type ScheduleScalarKey = (typeof SCHEDULE_SCALARS)[number];

export type ScheduleQuantity = ScheduleArrayKey | DerivedPerTKey | ScheduleScalarKey;

export function isScheduleQuantity(of: string): of is ScheduleQuantity {
  return (SCHEDULE_ARRAYS as readonly string[]).includes(of) || (DERIVED_PER_T as readonly string[]).includes(of) || (SCHEDULE_SCALARS as readonly string[]).includes(of);
}

/** Whether a quantity needs a timestep t. */
export function needsT(of: ScheduleQuantity): boolean {
  return !(SCHEDULE_SCALARS as readonly string[]).includes(of);
}

/** Number of steps whose β_t was clipped to the schedule's largest β (only the cosine schedule clips, at 0.999). */
export function clippedBetaSteps(schedule: Schedule, maxBeta = 0.999): number {
  let n = 0;
  for (let t = 1; t <= schedule.T; t++) if (schedule.beta[t] >= maxBeta) n++;
  return n;
}

/** One number of the `kind` schedule with T steps: a per-t quantity at t, or a whole-schedule quantity. */
export function scheduleValue(kind: ScheduleKind, of: ScheduleQuantity, t?: number, T = 1000, level?: number): number {
  const s = makeSchedule(kind, T);
  if (of === 'firstTSnrAtMost' || of === 'stepsSnrAtMost') {
    if (level === undefined || !(level > 0)) throw new RangeError(`${of} needs a positive level, got ${level}`);
    let first = 0;
    let n = 0;
    for (let k = 1; k <= s.T; k++) {
      if (s.snr[k] <= level) {
        n++;
        if (first === 0) first = k;
      }
    }
    return of === 'firstTSnrAtMost' ? first : n;
  }
  switch (of) {
    case 'halfSignalT':
      return halfSignalT(s);
    case 'nearlyPureNoiseSteps':
      return nearlyPureNoiseSteps(s);
    case 'clippedBetaSteps':
      return clippedBetaSteps(s);
    case 'T':
      return s.T;
    default:
      break;
  }
  if (t === undefined || !Number.isInteger(t) || t < 0 || t > T) throw new RangeError(`${of} needs an integer t in 0…${T}, got ${t}`);
  switch (of) {
    case 'oneMinusAlphaBar':
      return 1 - s.alphaBar[t];
    case 'sqrtBeta':
      return Math.sqrt(s.beta[t]);
    case 'sqrtBetaTilde':
      return Math.sqrt(s.betaTilde[t]);
    case 'sigmaGapGrey':
      return (Math.sqrt(s.beta[t]) - Math.sqrt(s.betaTilde[t])) * 127.5;
    case 'sqrtSnr':
      return t === 0 ? Infinity : s.sqrtAlphaBar[t] / s.sqrtOneMinusAlphaBar[t];
    case 'betaTildeOverBeta':
      if (t === 0) throw new RangeError('β̃_t/β_t is undefined at t = 0');
      return s.betaTilde[t] / s.beta[t];
    default:
      return s[of][t];
  }
}

const SUPERSCRIPT: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };

export interface FormatOptions {
  /** Decimal places for ordinary numbers (default: 3, or 0 for integers); more are added where needed, see formatNumber. */
  digits?: number;
  /** Significant digits of the mantissa in scientific notation (default 3). */
  sig?: number;
  /** Below this magnitude (and non-zero) use scientific notation (default 1e-3). */
  sciBelow?: number;
  /** Show as a percentage: value × 100 with `digits` decimals (default 0) and a % sign. */
  percent?: boolean;
  /** Values a number that is not exactly one of them must not round onto (default 0 and 1; 0 % and 100 % for percent). */
  bounds?: readonly number[];
}

/** Group the integer part in threes with commas (1,234,567), as the rest of the site does. */
function group(intPart: string): string {
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Most decimal places formatNumber adds to keep a value from reading as a bound it does not reach. */
export const MAX_EXTRA_DIGITS = 10;

/**
 * Whether |value| shown with `digits` decimals reads as one of `bounds` (0 and 1, or 0 % and 100 %) although it is
 * not exactly that bound: a decay of 0.9995 shown as "1.000", a share of 0.0004 shown as "0%".
 */
export function roundsToBound(value: number, digits: number, bounds: readonly number[] = [0, 1]): boolean {
  const abs = Math.abs(value);
  const shown = Number(abs.toFixed(digits));
  return bounds.includes(shown) && shown !== abs;
}

/** The decimal places to show: `digits`, or more while the value would otherwise round onto a bound (see roundsToBound). */
export function honestDigits(value: number, digits: number, bounds: readonly number[] = [0, 1]): number {
  let d = digits;
  while (d < digits + MAX_EXTRA_DIGITS && roundsToBound(value, d, bounds)) d++;
  return d;
}

/**
 * Typeset a number for prose: fixed decimals, thousands separators, a true minus sign (−), "∞", and
 * "m × 10ⁿ" for tiny values; never "-0". A value that is not exactly 0 or ±1 (or 0 % or 100 %) never rounds to
 * one: it gets as many more decimals as it needs (a decay of 0.9995 asked for with 3 decimals shows as 0.9995), so
 * that no decay, probability or ratio on the site claims a bound it does not reach.
 */
export function formatNumber(value: number, opts: FormatOptions = {}): string {
  if (Number.isNaN(value)) return '—';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  if (opts.percent) {
    const d = honestDigits(value * 100, opts.digits ?? 0, opts.bounds ?? [0, 100]);
    return `${formatNumber(value * 100, { digits: d, sciBelow: 0, bounds: [] })}%`;
  }
  const sciBelow = opts.sciBelow ?? 1e-3;
  const abs = Math.abs(value);
  if (value !== 0 && abs < sciBelow) {
    const [m, e] = abs.toExponential(Math.max(0, (opts.sig ?? 3) - 1)).split('e');
    const exp = String(Number(e)).split('').map((c) => SUPERSCRIPT[c]).join('');
    return `${value < 0 ? '−' : ''}${m} × 10${exp}`;
  }
  const digits = honestDigits(value, opts.digits ?? (Number.isInteger(value) ? 0 : 3), opts.bounds ?? [0, 1]);
  const fixed = abs.toFixed(digits);
  const [intPart, frac] = fixed.split('.');
  const body = frac === undefined ? group(intPart) : `${group(intPart)}.${frac}`;
  const isZero = Number(fixed) === 0;
  return `${value < 0 && !isZero ? '−' : ''}${body}`;
}

/**
 * The number a formatted string shows, for checks on rendered pages: "1,234.5" → 1234.5, "−0.25" → −0.25,
 * "99.95%" → 0.9995 (a percentage as a fraction); null for "—", "∞", "m × 10ⁿ" and anything else.
 */
export function parseShownNumber(text: string): number | null {
  const t = text.trim().replace(/−/g, '-').replace(/,/g, '');
  const m = /^(-?\d+(?:\.\d+)?)(%?)$/.exec(t);
  if (!m) return null;
  return m[2] ? Number(m[1]) / 100 : Number(m[1]);
}

/**
 * Follow a path into parsed JSON: dotted keys ("unet.settings.ddim-50-eta0.metrics.fd"), array indices, "last" for
 * an array's last element, and [brackets] around a key that itself contains dots ("latent.guidance[w=0.5].share").
 * Undefined when anything along the way is missing.
 */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const m of path.matchAll(/\[([^\]]*)\]|[^.[\]]+/g)) {
    const key = m[1] ?? m[0];
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur) && key === 'last') cur = cur[cur.length - 1];
    else cur = Object.prototype.hasOwnProperty.call(cur, key) ? (cur as Record<string, unknown>)[key] : undefined;
  }
  return cur;
}

/** One part of the U-Net and its parameter count (U-Net of src/core/unet.ts). */
export interface UNetPart {
  /** Prefix of its parameter names in createUNet ('time', 'class', 'in', 'down0', …, 'mid', 'up0', 'out'). */
  key: string;
  /** What it is, for a table or diagram. */
  label: string;
  /** Resolution it runs at (H×W), or null for the embedding MLPs. */
  resolution: string | null;
  /** Input → output channels where that makes sense. */
  channels: [number, number] | null;
  params: number;
}

/**
 * Parameters of one cross-attention layer at c channels reading token states of width d_ctx (src/core/unet.ts
 * `crossAttention`): GroupNorm 2c, the query and output projections c→c, the key and value projections d_ctx→c.
 */
export function crossAttentionLayerParams(c: number, contextDim: number): number {
  return 2 * c + 2 * (c * c + c) + 2 * (contextDim * c + c);
}

/**
 * The cross-attention layers a config builds (one after every residual block and one after the middle, as createUNet
 * places them) and their parameters in all; zero of each without `crossAttention`.
 */
export function crossAttentionParams(config: UNetConfig): { layers: number; params: number } {
  const xa = config.crossAttention;
  if (!xa) return { layers: 0, params: 0 };
  const { channels, numResBlocks } = config;
  let params = crossAttentionLayerParams(channels[channels.length - 1], xa.contextDim);
  for (const c of channels) params += 2 * numResBlocks * crossAttentionLayerParams(c, xa.contextDim);
  return { layers: 2 * numResBlocks * channels.length + 1, params };
}

/**
 * Parameter count of every named part of the U-Net a config builds, in forward order; the counts follow the
 * layer shapes of createUNet (conv k×k a→b: k²ab + b; GroupNorm c: 2c; dense a→b: ab + b). A text-conditioned
 * U-Net's cross-attention layers are counted in the part whose name they carry (`down0.xattn0` in down0,
 * `mid.xattn` in mid); crossAttentionParams gives their total.
 */
export function unetParamBreakdown(config: UNetConfig): UNetPart[] {
  const { channels, numResBlocks, tembDim, numClasses } = config;
  const [H, W, inC] = config.inputShape;
  const levels = channels.length;
  const conv = (k: number, a: number, b: number) => k * k * a * b + b;
  const dense = (a: number, b: number) => a * b + b;
  const norm = (c: number) => 2 * c;
  const res = (a: number, b: number) => norm(a) + conv(3, a, b) + dense(tembDim, b) + norm(b) + conv(3, b, b) + (a === b ? 0 : conv(1, a, b));
  const xa = config.crossAttention;
  const xattn = (ch: number) => (xa ? crossAttentionLayerParams(ch, xa.contextDim) : 0);
  const withX = xa ? ', each followed by cross-attention to the prompt' : '';
  const size = (i: number) => `${H / 2 ** i}×${W / 2 ** i}`;
  const parts: UNetPart[] = [];
  parts.push({ key: 'time', label: `timestep embedding: sinusoid (${channels[0]}) → dense → SiLU → dense (${tembDim})`, resolution: null, channels: [channels[0], tembDim], params: dense(channels[0], tembDim) + dense(tembDim, tembDim) });
  if (numClasses > 0) {
    parts.push({ key: 'class', label: `class embedding: ${numClasses} classes + ∅, one row of ${tembDim} each`, resolution: null, channels: [numClasses + 1, tembDim], params: (numClasses + 1) * tembDim });
  }
  parts.push({ key: 'in', label: 'stem: 3×3 convolution', resolution: size(0), channels: [inC, channels[0]], params: conv(3, inC, channels[0]) });
  let c = channels[0];
  const skips: number[] = [];
  for (let i = 0; i < levels; i++) {
    let n = 0;
    const from = c;
    for (let j = 0; j < numResBlocks; j++) {
      n += res(c, channels[i]);
      c = channels[i];
      n += xattn(c);
      skips.push(c);
    }
    const blocks = numResBlocks === 1 ? 'residual block' : `${numResBlocks} residual blocks`;
    parts.push({ key: `down${i}`, label: `down, level ${i}: ${blocks}${withX}`, resolution: size(i), channels: [from, c], params: n });
  }
  if (config.attention || xa) {
    const what = [config.attention ? 'self-attention (GroupNorm, q, k, v, output projection)' : '', xa ? 'cross-attention to the prompt' : ''].filter(Boolean).join(', then ');
    parts.push({ key: 'mid', label: what, resolution: size(levels - 1), channels: [c, c], params: (config.attention ? norm(c) + 4 * dense(c, c) : 0) + xattn(c) });
  }
  for (let i = levels - 1; i >= 0; i--) {
    let n = 0;
    const from = c;
    for (let j = 0; j < numResBlocks; j++) {
      n += res(c + (skips.pop() as number), channels[i]);
      c = channels[i];
      n += xattn(c);
    }
    const blocks = numResBlocks === 1 ? 'residual block' : `${numResBlocks} residual blocks`;
    parts.push({ key: `up${i}`, label: `up, level ${i}: ${blocks} on [h, skip]${withX}`, resolution: size(i), channels: [from, c], params: n });
  }
  parts.push({ key: 'out', label: 'head: GroupNorm → SiLU → 3×3 convolution', resolution: size(0), channels: [c, inC], params: norm(c) + conv(3, c, inC) });
  return parts;
}

/** Sum of a breakdown. */
export function totalParams(parts: readonly UNetPart[]): number {
  return parts.reduce((n, p) => n + p.params, 0);
}

/** x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for plain arrays (the build-time figures; Ho et al. 2020 eq. 4). */
export { qSampleArray as noiseImage } from '../../core/qsample';

/** What a logged loss curve says: first logged value, the mean of the last `tail` entries, and the step range. */
export interface LossSummary {
  firstStep: number;
  firstLoss: number;
  lastStep: number;
  /** Mean of the last `tail` logged losses (a single logged value is noisy). */
  finalLoss: number;
  /** Smallest logged loss. */
  minLoss: number;
}

/** Summarise [step, loss] pairs (as the trainer logs them); null for an empty or malformed history. */
export function lossSummary(history: unknown, tail = 10): LossSummary | null {
  if (!Array.isArray(history) || history.length === 0) return null;
  const rows = history.filter((r): r is [number, number] => Array.isArray(r) && r.length >= 2 && Number.isFinite(r[0]) && Number.isFinite(r[1]));
  if (rows.length !== history.length) return null;
  const last = rows.slice(-Math.max(1, tail));
  return {
    firstStep: rows[0][0],
    firstLoss: rows[0][1],
    lastStep: rows[rows.length - 1][0],
    finalLoss: last.reduce((s, r) => s + r[1], 0) / last.length,
    minLoss: Math.min(...rows.map((r) => r[1])),
  };
}

/**
 * E_t[w_t] for the min-SNR-γ weights w_t = min(SNR_t, γ)/SNR_t with t uniform on 1…T (src/core/train.ts
 * minSnrWeights; γ ≤ 0 gives 1): the weighted loss of a network that always answers "no noise", whose plain
 * ε-MSE is 1. It is where a min-SNR-weighted loss curve starts, the analogue of L_simple's "knows nothing" level 1.
 */
export function minSnrMeanWeight(kind: ScheduleKind, T: number, gamma: number): number {
  if (!(gamma > 0)) return 1;
  const s = makeSchedule(kind, T);
  let sum = 0;
  for (let t = 1; t <= T; t++) sum += s.snr[t] > gamma ? gamma / s.snr[t] : 1;
  return sum / T;
}

/** Mean and standard deviation of uint8 pixels (0…255) on the lessons' [−1, 1] scale (v/127.5 − 1), in float64. */
export function pixelStats(pixels: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < pixels.length; i++) {
    const v = pixelToUnit(pixels[i]);
    sum += v;
    sq += v * v;
  }
  const mean = sum / pixels.length;
  return { mean, std: Math.sqrt(Math.max(0, sq / pixels.length - mean * mean)) };
}

/** Number of values in the weights of a parsed TensorFlow.js model.json (the product of every weight's shape, summed). */
export function manifestParamCount(modelJson: unknown): number {
  const groups = (modelJson as { weightsManifest?: { weights?: { shape?: number[] }[] }[] } | null)?.weightsManifest;
  if (!Array.isArray(groups)) throw new Error('model.json has no weightsManifest');
  let n = 0;
  for (const g of groups) for (const w of g.weights ?? []) n += (w.shape ?? []).reduce((a, b) => a * b, 1);
  return n;
}
