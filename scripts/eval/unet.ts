/**
 * Eval section `unet`: unet-mnist's samplers compared by MNIST-FD — our version of Table 1 of the DDIM paper
 * (Song et al. 2021): DDPM over all 1000 steps (σ² = β and σ² = β̃) and DDIM with 10, 20, 50, 100 steps at
 * η = 0 and η = 1, each from the same seeded x_T (batch b of every setting starts from makeNoise(fork(seed, b))).
 * Metrics per setting: MNIST-FD against the 1,000 held-out digits, entropy of the predicted-class histogram,
 * mean classifier confidence, share with confidence ≥ 0.9 (digitMetrics in common.ts).
 *
 * Options (--set key=value):
 *   rows=all|ddpm|ddim|<key>,<key>…   which settings to (re)compute (keys as in SETTINGS below)
 *   samples=500        digits per DDIM setting (DEFAULT_COUNTS; the shipped table has 1,000 for every setting)
 *   ddpmSamples=200    digits per DDPM setting (DDIM's first n digits share their x_T with DDPM's, and every
 *                      setting also records metrics at each multiple of the batch size, so the DDIM-50 vs
 *                      DDPM-1000 comparison is made at DDPM's count)
 *   batch=50, seed=1, mode=cond|uncond (cond: digit i conditioned on class i mod 10; uncond: null class ∅)
 *   deadline=HH:MM     (UTC) start no new batch after it; a setting then reports the digits made so far.
 *                      Finished batches are cached in .cache/eval/, so a re-run continues where it stopped.
 *   model=models/unet-mnist (folder), card=true (write the table into <model>/README.md); card=only samples and
 *                      measures nothing: it re-renders the card's table from what models/eval.json holds
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { crc32 } from '../../src/core/data';
import { conditioned, unconditional } from '../../src/core/guidance';
import { parseUNetMetadata, unetFromWeights, type UNetMetadata } from '../../src/core/models';
import { samplers, type SamplerName } from '../../src/core/samplers';
import { makeSchedule } from '../../src/core/schedules';
import type { Denoiser, SampleOptions, Sampler, Schedule } from '../../src/core/types';
import type { UNet } from '../../src/core/unet';
import { loadWeightsFromDir } from '../lib/weights-file';
import { digitMetrics, markdownTable, PIXELS, realDigitFloor, sampleMany, type DigitMetrics, type EvalContext, type EvalSection } from './common';

export interface SamplerSetting {
  key: string;
  label: string;
  sampler: SamplerName;
  steps: number;
  options: Omit<SampleOptions, 'noise'>;
}

/** The rows of the table, in order. */
export const SETTINGS: readonly SamplerSetting[] = [
  ...[10, 20, 50, 100].flatMap((steps) =>
    [0, 1].map((eta) => ({ key: `ddim-${steps}-eta${eta}`, label: `DDIM, η = ${eta}`, sampler: 'ddim' as const, steps, options: { steps, eta } })),
  ),
  { key: 'ddpm-1000-beta', label: 'DDPM, σ² = β', sampler: 'ddpm', steps: 1000, options: { variance: 'beta' } },
  { key: 'ddpm-1000-betaTilde', label: 'DDPM, σ² = β̃', sampler: 'ddpm', steps: 1000, options: { variance: 'betaTilde' } },
];

/** Extra rows, only computed when named in `rows`: the same samplers with x̂_0 clipped to [−1, 1] (as Ho et al.'s code does). */
export const EXTRA_SETTINGS: readonly SamplerSetting[] = [
  { key: 'ddim-50-eta0-clip', label: 'DDIM, η = 0, x̂_0 clipped', sampler: 'ddim', steps: 50, options: { steps: 50, eta: 0, clipX0: true } },
  { key: 'ddpm-1000-beta-clip', label: 'DDPM, σ² = β, x̂_0 clipped', sampler: 'ddpm', steps: 1000, options: { variance: 'beta', clipX0: true } },
];

const ALL_SETTINGS = [...SETTINGS, ...EXTRA_SETTINGS];

/**
 * Default sample counts: what a quick run affords on 2 CPU cores (a forward pass costs 3.5–15 ms per digit, DDPM-1000
 * thus 3.5–15 s per digit). The shipped table has 1,000 digits per setting: `--set samples=1000 --set ddpmSamples=1000`
 * (in several processes with `rows=…`, given the time).
 */
export const DEFAULT_COUNTS = { ddim: 500, ddpm: 200, batch: 50 } as const;

/**
 * Reference levels recorded in eval.json next to the measurements (key `targets`): a DDIM-50/DDPM-1000 MNIST-FD
 * ratio, a share of confident DDPM digits, the confidence that counts as confident. The model card states the
 * measured numbers, not these levels.
 */
export const TARGETS = { ddim50OverDdpm: 1.25, ddpmConfidentShare: 0.8, confidence: 0.9 } as const;

/** Settings chosen by the `rows` option. */
export function selectSettings(rows: string): SamplerSetting[] {
  if (rows === 'all') return [...SETTINGS];
  if (rows === 'ddpm' || rows === 'ddim') return SETTINGS.filter((s) => s.sampler === rows);
  const keys = rows.split(',').map((k) => k.trim());
  const unknown = keys.filter((k) => !ALL_SETTINGS.some((s) => s.key === k));
  if (unknown.length) throw new Error(`unknown unet eval row(s) ${unknown.join(', ')}; known: ${ALL_SETTINGS.map((s) => s.key).join(', ')}`);
  return ALL_SETTINGS.filter((s) => keys.includes(s.key));
}

/** Prefix sizes at which every setting's metrics are also recorded (FD depends on the sample count); every multiple of the batch size too. */
export const PREFIX_COUNTS = [50, 100, 200, 250, 500, 1000] as const;

/** "HH:MM" (UTC, today) or an ISO time → epoch ms. */
export function deadlineOf(v: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(v);
  if (m) {
    const d = new Date();
    d.setUTCHours(Number(m[1]), Number(m[2]), 0, 0);
    return d.getTime();
  }
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new Error(`deadline must be HH:MM (UTC) or an ISO time, got "${v}"`);
  return t;
}

/** Sampling time recorded by earlier runs of a setting, if any. */
function priorTiming(cacheDir: string, key: string): { seconds: number; count: number } | null {
  const file = join(cacheDir, `${key}.json`);
  if (!existsSync(file)) return null;
  const t = JSON.parse(readFileSync(file, 'utf8')) as { seconds: number; count: number };
  return t.count > 0 && t.seconds > 0 ? t : null;
}

/** Sampling seconds of a setting, accumulated over interrupted runs in <cacheDir>/<key>.json. */
function timingOf(cacheDir: string, key: string, count: number, secondsNow: number): number {
  const file = join(cacheDir, `${key}.json`);
  const prev = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { seconds: number; count: number }) : { seconds: 0, count: 0 };
  const seconds = secondsNow > 1 || prev.count === 0 ? prev.seconds + secondsNow : prev.seconds;
  writeFileSync(file, JSON.stringify({ seconds, count: Math.max(count, prev.count) }));
  return seconds;
}

/** The class of digit i in conditional mode (balanced like the held-out set). */
export const classOf = (i: number) => i % 10;

/** A denoiser for batch b of `size` digits (global index b·batchSize + j). */
export function batchDenoiser(unet: UNet, mode: 'cond' | 'uncond', batchSize: number): (b: number, size: number) => Denoiser {
  const k = unet.config.numClasses;
  if (k === 0) return () => unconditional(unet.model);
  if (mode === 'uncond') return () => conditioned(unet.model, k);
  return (b, size) => conditioned(unet.model, Array.from({ length: size }, (_, j) => classOf(b * batchSize + j)));
}

/**
 * The class-conditional runs of the sampler sections (solvers, flow, consistency): digit i conditioned on class i mod 10,
 * batch b from x_T = makeNoise(fork(seed, b)), each finished batch cached under <cacheDir>/<cacheKey>-b<b>; returns the
 * digits, how many there are (fewer than count when shouldStop ended the run) and the seconds.
 */
export function conditionalRuns(o: { ctx: Pick<EvalContext, 'cacheDir' | 'log'>; schedule: Schedule; count: number; batchSize: number; seed: number; shouldStop?: () => boolean }) {
  return async (name: string, sampler: Sampler, unet: UNet, steps: number, options: Omit<SampleOptions, 'noise' | 'steps'>, cacheKey: string) => {
    const t0 = performance.now();
    const images = await sampleMany({
      sampler,
      schedule: o.schedule,
      denoiser: batchDenoiser(unet, 'cond', o.batchSize),
      shape: [28, 28, 1],
      count: o.count,
      batchSize: o.batchSize,
      seed: o.seed,
      sampleOptions: { steps, ...options },
      cache: { dir: o.ctx.cacheDir, key: cacheKey },
      shouldStop: o.shouldStop,
      onBatch: (done, total) => o.ctx.log(`${name} ${steps} steps: ${done}/${total} digits, ${((performance.now() - t0) / 1000).toFixed(0)} s`),
    });
    return { images, n: images.length / PIXELS, seconds: (performance.now() - t0) / 1000 };
  };
}

/** Load a U-Net folder from disk (model.json + weights) with its schedule; the caller disposes unet. */
export function loadUNetFromDir(dir: string): { unet: UNet; metadata: UNetMetadata; weightsCrc: number } {
  const { weights, metadata: raw } = loadWeightsFromDir(dir);
  const source = join(dir, 'model.json');
  const metadata = parseUNetMetadata(raw, source);
  const json = JSON.parse(readFileSync(source, 'utf8')) as { weightsManifest: { paths: string[] }[] };
  const weightsCrc = crc32(new Uint8Array(readFileSync(join(dir, json.weightsManifest[0].paths[0]))));
  return { unet: unetFromWeights(weights, metadata, source), metadata, weightsCrc };
}

interface SettingResult {
  label: string;
  sampler: string;
  steps: number;
  options: Record<string, unknown>;
  mode: string;
  seed: number;
  count: number;
  metrics: DigitMetrics;
  /** Metrics of the first n digits (n in PREFIX_COUNTS below count, and count): compare settings at equal n and x_T. */
  byCount: Record<string, DigitMetrics>;
  seconds: number;
  secondsPerDigit: number;
  weightsCrc: string;
}

/** The settings computed from the current weights (eval.json may still hold rows of an earlier model), with byCount cut at count. */
function currentSettings(r: Record<string, unknown>): Record<string, SettingResult> {
  const all = (r.settings ?? {}) as Record<string, SettingResult>;
  const out: Record<string, SettingResult> = {};
  for (const [k, v] of Object.entries(all)) {
    if (v.weightsCrc !== r.weightsCrc) continue;
    out[k] = { ...v, byCount: Object.fromEntries(Object.entries(v.byCount ?? {}).filter(([n]) => Number(n) <= v.count)) };
  }
  return out;
}

/** "500 (DDIM, η = 0, 50 steps, …), 100 (DDPM …)" grouped by count. */
function countsText(settings: Record<string, SettingResult>): string {
  const by = new Map<number, string[]>();
  for (const v of Object.values(settings)) by.set(v.count, [...(by.get(v.count) ?? []), `${v.label}, ${v.steps} steps`]);
  return [...by.entries()].sort((a, b) => b[0] - a[0]).map(([n, l]) => `${n} for ${l.join('; ')}`).join(' — ');
}

const fmtPct = (v: number) => `${(100 * v).toFixed(1)} %`;

/** The headline numbers under the table, as plain statements (from the rows and the derived numbers in `targets`). */
function summaryLines(settings: Record<string, SettingResult>, derived: Record<string, { ratio?: number; value?: number; count?: number }>): string[] {
  const out: string[] = [];
  for (const key of ['ddpm-1000-beta', 'ddpm-1000-betaTilde']) {
    const ddpm = settings[key];
    if (!ddpm) continue;
    const ratio = derived[`ddim50-vs-${key}`];
    out.push(
      `- ${ddpm.label}, ${ddpm.steps} steps: ${fmtPct(ddpm.metrics.confidentShare)} of its digits get classifier confidence ≥ 0.9` +
        (ratio?.ratio !== undefined ? `; DDIM-50 (η = 0) has ${ratio.ratio.toFixed(2)}× its MNIST-FD at n = ${ratio.count}, the same x_T.` : '.'),
    );
  }
  const time = derived['training-time'];
  if (time?.value !== undefined) out.push(`- Training took ${time.value.toFixed(1)} min of wall time (the model's config.json).`);
  return out;
}

const section: EvalSection = {
  name: 'unet',
  title: 'unet-mnist: MNIST-FD by sampler and number of steps (DDIM paper, Table 1)',
  async run(ctx: EvalContext) {
    const o = ctx.options;
    if (o.card === 'only') return {}; // nothing measured: finish() re-renders the card from eval.json
    const dirOpt = String(o.model ?? 'models/unet-mnist');
    const dir = isAbsolute(dirOpt) ? dirOpt : join(ctx.root, dirOpt);
    const rows = selectSettings(String(o.rows ?? 'all'));
    const samples = Number(o.samples ?? DEFAULT_COUNTS.ddim);
    const ddpmSamples = Number(o.ddpmSamples ?? DEFAULT_COUNTS.ddpm);
    const batchSize = Number(o.batch ?? DEFAULT_COUNTS.batch);
    const seed = Number(o.seed ?? 1);
    const mode = o.mode === 'uncond' ? 'uncond' : 'cond';
    const deadline = o.deadline ? deadlineOf(String(o.deadline)) : Infinity;
    const { unet, metadata, weightsCrc } = loadUNetFromDir(dir);
    const schedule = makeSchedule(metadata.schedule.kind, metadata.schedule.T);
    const crcHex = (weightsCrc >>> 0).toString(16).padStart(8, '0');
    const settings: Record<string, SettingResult> = {};
    try {
      for (const s of rows) {
        const wanted = s.sampler === 'ddpm' ? ddpmSamples : samples;
        const cacheKey = `unet-${crcHex}-${mode}-s${seed}-b${batchSize}-${s.key}`;
        const t0 = performance.now();
        // A batch is started only if it should end before the deadline (estimate: the last sampled batch, or earlier runs' rate).
        const prior = priorTiming(ctx.cacheDir, cacheKey);
        let batchMs = prior ? (1000 * prior.seconds * batchSize) / prior.count : 0;
        let lastBatchEnd = performance.now();
        let lastWasCached = true;
        const images = await sampleMany({
          sampler: samplers[s.sampler],
          schedule,
          denoiser: batchDenoiser(unet, mode, batchSize),
          shape: [28, 28, 1],
          count: wanted,
          batchSize,
          seed,
          sampleOptions: s.options,
          cache: { dir: ctx.cacheDir, key: cacheKey },
          shouldStop: () => {
            lastWasCached = false;
            return Date.now() + batchMs > deadline;
          },
          onBatch: (done, total) => {
            const now = performance.now();
            if (!lastWasCached) batchMs = now - lastBatchEnd;
            lastBatchEnd = now;
            lastWasCached = true;
            ctx.log(`${s.key}: ${done}/${total} digits, ${((now - t0) / 1000).toFixed(0)} s`);
          },
        });
        const count = images.length / PIXELS;
        if (count === 0) {
          ctx.log(`${s.key}: skipped, the deadline has passed`);
          continue;
        }
        const timing = timingOf(ctx.cacheDir, cacheKey, count, (performance.now() - t0) / 1000);
        const labels = mode === 'cond' && unet.config.numClasses > 0 ? Int32Array.from({ length: count }, (_, i) => classOf(i)) : undefined;
        const metrics = await digitMetrics(ctx, images, count, labels);
        const byCount: Record<string, DigitMetrics> = {};
        const prefixes = new Set<number>([...PREFIX_COUNTS, ddpmSamples]);
        for (let n = batchSize; n < count; n += batchSize) prefixes.add(n);
        for (const n of [...prefixes].sort((a, b) => a - b)) {
          if (n < count) byCount[String(n)] = await digitMetrics(ctx, images.subarray(0, n * PIXELS), n, labels?.subarray(0, n));
        }
        byCount[String(count)] = metrics;
        settings[s.key] = {
          label: s.label,
          sampler: s.sampler,
          steps: s.steps,
          options: { ...s.options },
          mode,
          seed,
          count,
          metrics,
          byCount,
          seconds: timing,
          secondsPerDigit: timing / count,
          weightsCrc: crcHex,
        };
        ctx.log(`${s.key}: FD ${metrics.fd.toFixed(3)} (n = ${count}), confident ${fmtPct(metrics.confidentShare)}`);
      }
    } finally {
      unet.dispose();
    }
    const floors: Record<string, number> = {};
    for (const n of new Set([...PREFIX_COUNTS, ...Object.values(settings).map((v) => v.count)])) floors[String(n)] = await realDigitFloor(ctx, n);
    return {
      model: dirOpt,
      weightsCrc: crcHex,
      mode,
      modeNote: mode === 'cond' ? 'class-conditional sampling, digit i conditioned on class i mod 10 (balanced, like the held-out set)' : 'unconditional sampling with the null class ∅',
      seed,
      batchSize,
      requestedCounts: { ddim: samples, ddpm: ddpmSamples },
      fdFloor: floors,
      fdFloorNote: 'FD of n seeded-random training digits vs the 1,000 held-out digits: the score of a perfect generator at that sample size',
      settings,
    };
  },
  async finish(merged, ctx) {
    const settings = currentSettings(merged);
    const ddim = settings['ddim-50-eta0'];
    const patch: Record<string, unknown> = {};
    const targets: Record<string, unknown> = {};
    for (const key of ['ddpm-1000-beta', 'ddpm-1000-betaTilde']) {
      const ddpm = settings[key];
      if (!ddpm) continue;
      targets[`recognisable-${key}`] = {
        target: `classifier confidence ≥ ${TARGETS.confidence} on ≥ ${100 * TARGETS.ddpmConfidentShare} % of DDPM digits`,
        value: ddpm.metrics.confidentShare,
        met: ddpm.metrics.confidentShare >= TARGETS.ddpmConfidentShare,
      };
      if (!ddim) continue;
      const n = ddpm.count;
      const ddimAtN = ddim.byCount?.[String(n)] ?? null;
      if (!ddimAtN) continue;
      const ratio = ddimAtN.fd / ddpm.metrics.fd;
      targets[`ddim50-vs-${key}`] = {
        target: `DDIM-50 (η = 0) MNIST-FD ≤ ${TARGETS.ddim50OverDdpm} × DDPM-1000's, at the same sample count and x_T`,
        count: n,
        ddim50Fd: ddimAtN.fd,
        ddpmFd: ddpm.metrics.fd,
        ratio,
        met: ratio <= TARGETS.ddim50OverDdpm,
      };
    }
    const dirOpt = String(merged.model ?? 'models/unet-mnist');
    const configFile = join(isAbsolute(dirOpt) ? dirOpt : join(ctx.root, dirOpt), 'config.json');
    if (existsSync(configFile)) {
      const wall = Number((JSON.parse(readFileSync(configFile, 'utf8')) as { wallTimeSec?: number }).wallTimeSec);
      if (Number.isFinite(wall)) targets['training-time'] = { target: 'training ≤ 60 min', value: wall / 60, met: wall <= 3600 };
    }
    patch.targets = targets;
    if (ctx.options.card !== false) {
      const readme = join(isAbsolute(dirOpt) ? dirOpt : join(ctx.root, dirOpt), 'README.md');
      if (existsSync(readme)) {
        const begin = '<!-- eval:unet -->';
        const end = '<!-- /eval:unet -->';
        const block = `${begin}\n## Sampler comparison (\`npm run eval -- unet\`)\n\n${section.format!({ ...merged, ...patch })}\n${end}`;
        const text = readFileSync(readme, 'utf8');
        const i = text.indexOf(begin);
        const j = text.indexOf(end);
        writeFileSync(readme, i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`);
        ctx.log(`updated ${readme}`);
      }
    }
    return patch;
  },
  format(r) {
    const settings = currentSettings(r);
    const floors = (r.fdFloor ?? {}) as Record<string, number>;
    const ddpmCounts = SETTINGS.filter((s) => s.sampler === 'ddpm' && settings[s.key]).map((s) => settings[s.key].count);
    const compare = ddpmCounts.length ? Math.min(...ddpmCounts) : undefined;
    const rows = ALL_SETTINGS.filter((s) => settings[s.key]).map((s) => {
      const v = settings[s.key];
      const m = v.metrics;
      const atC = compare === undefined ? undefined : v.byCount?.[String(compare)];
      return [
        v.label,
        v.steps,
        v.count,
        m.fd,
        atC ? atC.fd : '–',
        m.classEntropy,
        m.meanConfidence,
        fmtPct(m.confidentShare),
        m.conditionAccuracy === undefined ? '–' : fmtPct(m.conditionAccuracy),
        v.seconds > 0 ? v.secondsPerDigit : '–',
      ] as (string | number)[];
    });
    const targets = (r.targets ?? {}) as Record<string, { target: string; met: boolean; ratio?: number; value?: number; count?: number }>;
    const lines = [
      markdownTable(
        ['sampler', 'steps', 'digits', 'MNIST-FD', `MNIST-FD at n = ${compare ?? '?'} (same x_T)`, 'class entropy (nats)', 'mean confidence', 'confidence ≥ 0.9', 'classified as conditioned', 's / digit'],
        rows,
      ),
      '',
      `${String(r.modeNote ?? '')}; seed ${String(r.seed ?? '')}, batches of ${String(r.batchSize ?? '')}; weights CRC ${String(r.weightsCrc ?? '')}. ` +
        `Digits per setting: ${countsText(settings)}. Because FD depends on the sample count, the column “at n = ${compare ?? '?'}” recomputes every row on its first ${compare ?? '?'} digits, which start from the same x_T as the DDPM digits; compare rows there. ` +
        `MNIST-FD is against the 1,000 held-out digits and biased by sample size: real training digits score ${Object.entries(floors)
          .map(([n, v]) => `${v.toFixed(2)} at n = ${n}`)
          .join(', ')} (the floors: one seeded random draw of training digits each, not balanced by class, so a generator that is asked for exactly n/10 digits of every class and is as good as real digits can score below them). ln 10 = 2.303 is a perfectly even class histogram.`,
    ];
    const summary = summaryLines(settings, targets);
    if (summary.length) lines.push('', ...summary);
    return lines.join('\n');
  },
};

export default section;
