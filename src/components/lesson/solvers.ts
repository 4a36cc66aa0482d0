/**
 * Pure helper behind SolverTable.astro (build time only, no DOM, no fs): the `solvers` section of models/eval.json
 * (written by scripts/eval/solvers.ts) as two tables, RMS distance to the converged ODE solution and MNIST-FD, one
 * row per sampler and one column per budget of network evaluations (NFE), with DDPM-1000's FD from the `unet`
 * section at the same number of digits for comparison.
 */
import { SAMPLER_NAMES } from '../../core/samplerInfo';
import { formatNumber, getPath } from './values';

/** One measured setting: a sampler at one NFE budget. */
export interface SolverCell {
  /** Network evaluations the run actually used (Heun's 2·steps − 1 can fall short of the budget). */
  nfe: number;
  steps: number;
  /** Digits scored. */
  count: number;
  rms: number | null;
  fd: number | null;
  rmsText: string;
  fdText: string;
  /** This cell has the smallest RMS distance of its column. */
  closest: boolean;
}

export interface SolverTableRow {
  sampler: string;
  label: string;
  /** One per budget, in the order of `budgets`; null where the setting was not measured. */
  cells: (SolverCell | null)[];
}

export interface SolverComparison {
  label: string;
  count: number;
  fd: number;
  fdText: string;
}

export interface SolverTablesView {
  /** The NFE budgets (columns), ascending. */
  budgets: number[];
  /** One row per sampler, in the order of the sampler registry (unknown names after, in order of appearance). */
  rows: SolverTableRow[];
  /** The converged solution every RMS distance is measured to; null when the section does not say. */
  reference: { label: string; steps: number; count: number; fd: number | null; fdText: string } | null;
  /** DDPM over all 1000 steps (σ² = β) at the reference's digit count, from the unet section; null when not measured at that count. */
  ddpm: SolverComparison | null;
  /** The reference's FD over DDPM-1000's (same digits); null when either is missing. */
  odeOverDdpm: { value: number; text: string } | null;
  /** Real training digits against the held-out digits, at the reference's count. */
  fdFloor: { value: number; text: string } | null;
  /** The distinct digit counts of the measured cells, ascending (FD can only be compared at equal counts). */
  counts: number[];
}

/** The unet setting whose FD the table compares with (the one lesson 7 measures every other sampler against). */
export const DDPM_SETTING = 'ddpm-1000-beta';

/** Significant digits of an RMS distance (they span orders of magnitude across the table), decimals of an FD. */
const RMS_SIG = 3;
const FD_DIGITS = 2;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown, fallback: string): string => (typeof v === 'string' && v.length > 0 ? v : fallback);
const text = (v: number | null, digits: number): string => (v === null ? '—' : formatNumber(v, { digits }));

/** A distance with RMS_SIG significant digits: 0.123, 0.0500, 0.00125; m × 10ⁿ below 10⁻⁴. */
export function rmsText(v: number | null): string {
  if (v === null) return '—';
  const digits = v > 0 ? Math.max(0, RMS_SIG - 1 - Math.floor(Math.log10(v))) : RMS_SIG;
  return formatNumber(v, { digits, sig: RMS_SIG, sciBelow: 1e-4 });
}

/** The budget a row was asked for: from its key ("dpmpp2m-nfe10"), else the NFE it used. */
function budgetOf(key: string, nfe: number | null): number | null {
  const m = /-nfe(\d+)$/.exec(key);
  if (m) return Number(m[1]);
  return nfe;
}

/** DDPM-1000's FD at exactly `count` digits: its byCount entry, or its main metrics when it scored that many. */
function ddpmAt(evalJson: unknown, count: number): SolverComparison | null {
  const s = getPath(evalJson, `unet.settings.${DDPM_SETTING}`);
  if (s === undefined || s === null || typeof s !== 'object') return null;
  const label = str(getPath(s, 'label'), 'DDPM, 1000 steps');
  const byCount = num(getPath(s, `byCount.${count}.fd`));
  const fd = byCount ?? (num(getPath(s, 'count')) === count ? num(getPath(s, 'metrics.fd')) : null);
  return fd === null ? null : { label, count, fd, fdText: text(fd, FD_DIGITS) };
}

/**
 * The solver tables of a parsed models/eval.json, or null when it has no `solvers` section with at least one
 * measured row. Rows or fields of the wrong type are skipped or shown as "—", never guessed.
 */
export function solverTables(evalJson: unknown): SolverTablesView | null {
  const section = getPath(evalJson, 'solvers');
  if (section === undefined || section === null || typeof section !== 'object') return null;
  const rawRows = getPath(section, 'rows');
  if (rawRows === undefined || rawRows === null || typeof rawRows !== 'object' || Array.isArray(rawRows)) return null;

  type Entry = { sampler: string; label: string; budget: number; cell: SolverCell };
  const entries: Entry[] = [];
  for (const [key, r] of Object.entries(rawRows as Record<string, unknown>)) {
    if (r === null || typeof r !== 'object') continue;
    const sampler = getPath(r, 'sampler');
    const nfe = num(getPath(r, 'nfe'));
    const budget = budgetOf(key, nfe);
    if (typeof sampler !== 'string' || nfe === null || budget === null) continue;
    const rms = num(getPath(r, 'rmsToReference'));
    const fd = num(getPath(r, 'fd'));
    entries.push({
      sampler,
      label: str(getPath(r, 'label'), sampler),
      budget,
      cell: { nfe, steps: num(getPath(r, 'steps')) ?? 0, count: num(getPath(r, 'count')) ?? 0, rms, fd, rmsText: rmsText(rms), fdText: text(fd, FD_DIGITS), closest: false },
    });
  }
  if (entries.length === 0) return null;

  const known = SAMPLER_NAMES as readonly string[];
  const order = (s: string) => (known.includes(s) ? known.indexOf(s) : known.length + entries.findIndex((e) => e.sampler === s));
  const samplers = [...new Set(entries.map((e) => e.sampler))].sort((a, b) => order(a) - order(b));
  const budgets = [...new Set(entries.map((e) => e.budget))].sort((a, b) => a - b);
  const rows: SolverTableRow[] = samplers.map((sampler) => ({
    sampler,
    label: entries.find((e) => e.sampler === sampler)!.label,
    cells: budgets.map((b) => entries.find((e) => e.sampler === sampler && e.budget === b)?.cell ?? null),
  }));
  budgets.forEach((_, j) => {
    const measured = rows.map((r) => r.cells[j]).filter((c): c is SolverCell => c !== null && c.rms !== null);
    if (measured.length < 2) return;
    const least = Math.min(...measured.map((c) => c.rms!));
    for (const c of measured) c.closest = c.rms === least;
  });

  const ref = getPath(section, 'reference');
  const refCount = num(getPath(ref, 'count'));
  const refFd = num(getPath(ref, 'fd'));
  const reference =
    ref !== null && typeof ref === 'object' && refCount !== null
      ? { label: str(getPath(ref, 'label'), str(getPath(ref, 'sampler'), 'reference')), steps: num(getPath(ref, 'steps')) ?? 0, count: refCount, fd: refFd, fdText: text(refFd, FD_DIGITS) }
      : null;
  const counts = [...new Set(entries.map((e) => e.cell.count))].sort((a, b) => a - b);
  const comparisonCount = reference?.count ?? counts[counts.length - 1];
  const ddpm = ddpmAt(evalJson, comparisonCount);
  const ratio = ddpm && reference && reference.fd !== null && reference.count === ddpm.count ? reference.fd / ddpm.fd : null;
  const floor = num(getPath(section, 'fdFloor'));
  return {
    budgets,
    rows,
    reference,
    ddpm,
    odeOverDdpm: ratio === null ? null : { value: ratio, text: text(ratio, FD_DIGITS) },
    fdFloor: floor === null ? null : { value: floor, text: text(floor, FD_DIGITS) },
    counts,
  };
}
