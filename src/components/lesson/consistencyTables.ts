/**
 * Pure helpers behind <ConsistencyTable> (build time only, no DOM, no fs): the `consistency` section of
 * models/eval.json (written by `npm run eval -- consistency`) as one table by network evaluations (NFE): a line for
 * the consistency model and one per teacher sampler (DDIM, DPM-Solver++ 2M), MNIST-FD and the share of digits the
 * classifier reads with confidence ≥ the threshold in every cell; the teacher's longer runs (DDIM-10, DDPM-1000) as
 * reference lines beside it; and sentences computed from the numbers, so that none assumes which way they came out.
 *
 * Rows are keyed `<group>-nfe<k>` ("consistency-nfe1", "teacher-ddim-nfe2", …): the group is the line, k the column
 * unless the row's own `nfe` is a positive integer. The columns are the consistency model's NFEs; a teacher row at
 * another NFE is a reference line. A missing section gives null (the component shows a note); a missing or
 * malformed field gives "—", never a guess.
 */
import { rate, type Rate } from './clipTables';
import { formatNumber, getPath } from './values';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** The confidence level `confidentShare` counts (scripts/eval/common.ts digitMetrics: max softmax ≥ 0.9), unless the section names its own. */
export const DEFAULT_CONFIDENT_AT = 0.9;

/** A measured number with its text; null where the value is missing. */
export interface Measured {
  value: number;
  text: string;
}

/** FD with one decimal, as the other lessons' FD tables show it. */
export const FD_DIGITS = 1;
const fdOf = (v: unknown): Measured | null => {
  const n = num(v);
  return n === null || n < 0 ? null : { value: n, text: formatNumber(n, { digits: FD_DIGITS, sciBelow: 0 }) };
};

export interface ConsistencyCell {
  nfe: number;
  fd: Measured | null;
  confident: Rate | null;
  /** The share the classifier reads as the class asked for (conditionAccuracy). */
  asked: Rate | null;
  /** The row ran on the trailing timestep grid (a teacher sampler at one step starts from t = T). */
  trailing: boolean;
}

export interface ConsistencyLine {
  /** The rows' key prefix: "consistency", "teacher-ddim", … */
  group: string;
  /** The sampler's name ("Consistency model", "DDIM", …). */
  label: string;
  /** Whether the line is the teacher's (the diffusion model the consistency model was distilled from). */
  teacher: boolean;
  cells: Map<number, ConsistencyCell>;
}

export interface ConsistencyReference extends ConsistencyCell {
  group: string;
  label: string;
}

export interface ConsistencyView {
  /** The table's columns: the NFEs the consistency model was measured at, ascending. */
  nfes: number[];
  /** The consistency model first, then the teacher's samplers (DDIM, DPM-Solver++ 2M, then any other). */
  lines: ConsistencyLine[];
  /** Teacher rows at other NFEs (DDIM-10, DDPM-1000), ascending by NFE. */
  references: ConsistencyReference[];
  /** Digits per row (the first row that says). */
  count: number | null;
  /** MNIST-FD of real held-out digits against the reference set, when the file has it. */
  floor: number | null;
  /** The confidence level the `confident` shares count. */
  confidentAt: number;
  confidentAtText: string;
}

const CONSISTENCY = 'consistency';
const LINE_ORDER = [CONSISTENCY, 'teacher-ddim', 'teacher-dpmpp2m'];
const FALLBACK_LABEL: Record<string, string> = {
  consistency: 'Consistency model',
  ddim: 'DDIM',
  dpmpp2m: 'DPM-Solver++ 2M',
  ddpm: 'DDPM',
};

/** A threshold such as 0.9 with the decimals it needs (at most 3). */
function thresholdText(v: number): string {
  const decimals = Math.min(3, (String(v).split('.')[1] ?? '').length);
  return formatNumber(v, { digits: decimals, bounds: [] });
}

/** The `consistency` section as a table, or null without it (or without any usable row). */
export function consistencyTable(evalJson: unknown): ConsistencyView | null {
  const raw = getPath(evalJson, 'consistency.rows');
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const parsed: (ConsistencyReference & { teacher: boolean })[] = [];
  let count: number | null = null;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const m = /^(.+)-nfe(\d+)$/.exec(key);
    if (!m || !value || typeof value !== 'object') continue;
    const r = value as Record<string, unknown>;
    const own = num(r.nfe);
    const nfe = own !== null && Number.isInteger(own) && own > 0 ? own : Number(m[2]);
    if (!(nfe > 0)) continue;
    const group = m[1];
    const sampler = str(r.sampler) ?? group.replace(/^teacher-/, '');
    parsed.push({
      group,
      label: str(r.label) ?? FALLBACK_LABEL[sampler] ?? sampler,
      teacher: group.startsWith('teacher-'),
      nfe,
      fd: fdOf(r.fd),
      confident: rate(r.confidentShare),
      asked: rate(r.conditionAccuracy),
      trailing: r.spacing === 'trailing',
    });
    const c = num(r.count);
    if (count === null && c !== null && c > 0) count = c;
  }
  if (parsed.length === 0) return null;
  // The columns: the consistency model's NFEs; without its rows, the NFEs at which two or more lines were measured.
  const groupsAt = (n: number) => new Set(parsed.filter((p) => p.nfe === n).map((p) => p.group)).size;
  const studentNfes = parsed.filter((p) => p.group === CONSISTENCY).map((p) => p.nfe);
  const nfes = [...new Set(studentNfes.length > 0 ? studentNfes : parsed.map((p) => p.nfe).filter((n) => groupsAt(n) >= 2))].sort((a, b) => a - b);
  const byGroup = new Map<string, ConsistencyLine>();
  const references: ConsistencyReference[] = [];
  for (const p of parsed) {
    if (!nfes.includes(p.nfe)) {
      if (p.group !== CONSISTENCY) references.push({ group: p.group, label: p.label, nfe: p.nfe, fd: p.fd, confident: p.confident, asked: p.asked, trailing: p.trailing });
      continue;
    }
    const line = byGroup.get(p.group) ?? { group: p.group, label: p.label, teacher: p.teacher, cells: new Map<number, ConsistencyCell>() };
    line.cells.set(p.nfe, { nfe: p.nfe, fd: p.fd, confident: p.confident, asked: p.asked, trailing: p.trailing });
    byGroup.set(p.group, line);
  }
  const rank = (g: string) => (LINE_ORDER.indexOf(g) + 1 || LINE_ORDER.length + 1);
  const lines = [...byGroup.values()].sort((a, b) => rank(a.group) - rank(b.group) || a.group.localeCompare(b.group));
  references.sort((a, b) => a.nfe - b.nfe || a.group.localeCompare(b.group));
  const at = num(getPath(evalJson, 'consistency.targets.oneStepConfident.threshold'));
  const confidentAt = at !== null && at > 0 && at < 1 ? at : DEFAULT_CONFIDENT_AT;
  const floor = [num(getPath(evalJson, 'consistency.fdFloor')), num(getPath(evalJson, 'solvers.fdFloor'))].find((v): v is number => v !== null && v >= 0) ?? null;
  return { nfes, lines, references, count, floor, confidentAt, confidentAtText: thresholdText(confidentAt) };
}

/** A piece of a sentence: plain text, or a measured number (rendered with its value for the content check). */
export type Part = string | Measured;

/** The text of a sentence made of parts. */
export const partsText = (parts: readonly Part[]): string => parts.map((p) => (typeof p === 'string' ? p : p.text)).join('');

/** "a", "a and b", "a, b and c". */
function list(items: Part[][]): Part[] {
  const out: Part[] = [];
  items.forEach((it, i) => {
    if (i > 0) out.push(i === items.length - 1 ? ' and ' : ', ');
    out.push(...it);
  });
  return out;
}

function last<T>(xs: readonly T[]): T | undefined {
  return xs[xs.length - 1];
}

const stepWord = (n: number): string => (n === 1 ? 'one-step' : `${formatNumber(n)}-evaluation`);

const nfeWords = (n: number): string => (n === 1 ? 'one network evaluation' : n === 2 ? 'two network evaluations' : `${formatNumber(n)} network evaluations`);

/**
 * Sentences read off the numbers: the consistency model against the teacher's samplers at its smallest NFE, its
 * two-evaluation FD against the teacher's DDIM with the most evaluations below DDPM's, how its FD moves as the
 * evaluations grow, and the confident shares at one evaluation. A sentence whose numbers are missing is left out.
 */
export function consistencySummary(view: ConsistencyView): Part[][] {
  const out: Part[][] = [];
  const student = view.lines.find((l) => l.group === CONSISTENCY);
  if (!student) return out;
  const teachers = view.lines.filter((l) => l.teacher);
  const first = view.nfes[0];
  const s1 = first === undefined ? undefined : student.cells.get(first);
  if (s1?.fd) {
    const others = teachers.flatMap((t) => {
      const c = t.cells.get(first);
      return c?.fd ? [{ label: t.label, fd: c.fd }] : [];
    });
    if (others.length > 0) {
      const below = others.filter((o) => s1.fd!.value < o.fd.value).length;
      const verdict = below === others.length ? 'lower than' : below === 0 ? 'no lower than' : 'between';
      out.push([
        `With ${nfeWords(first)} the consistency model's digits score an MNIST-FD of `,
        s1.fd,
        `, ${verdict} the teacher's `,
        ...list(others.map((o) => [`${o.label} (`, o.fd, ')'])),
        ' from the same noise.',
      ]);
    }
  }
  const s2 = student.cells.get(2);
  const ddimRef = last(view.references.filter((r) => r.group === 'teacher-ddim' && r.fd));
  if (s2?.fd && ddimRef?.fd) {
    out.push([
      'With two evaluations it scores ',
      s2.fd,
      `; the teacher with ${ddimRef.label} at ${formatNumber(ddimRef.nfe)} evaluations scores `,
      ddimRef.fd,
      ` (${s2.fd.value <= ddimRef.fd.value ? 'the consistency model is as good or better' : 'the teacher is better'}).`,
    ]);
  }
  const measured = view.nfes.map((n) => student.cells.get(n)).filter((c): c is ConsistencyCell & { fd: Measured } => !!c?.fd);
  if (measured.length >= 2) {
    const a = measured[0];
    const b = measured[measured.length - 1];
    const trend = b.fd.value < a.fd.value ? 'falls' : b.fd.value > a.fd.value ? 'rises' : 'stays';
    out.push([`From ${formatNumber(a.nfe)} to ${formatNumber(b.nfe)} evaluations its FD ${trend} from `, a.fd, ' to ', b.fd, '.']);
  }
  if (s1?.confident) {
    const others = teachers.flatMap((t) => {
      const c = t.cells.get(first);
      return c?.confident ? [[c.confident, ` for ${stepWord(c.nfe)} ${t.label}`] as Part[]] : [];
    });
    const longest = last(view.references.filter((r) => r.confident));
    if (longest?.confident) others.push([longest.confident, ` for ${longest.label} with ${formatNumber(longest.nfe)} evaluations`]);
    out.push([
      `The classifier reads `,
      s1.confident,
      ` of the consistency model's ${stepWord(first)} digits with confidence ≥ ${view.confidentAtText}`,
      ...(others.length > 0 ? [', against ', ...list(others)] : []),
      '.',
    ]);
  }
  // Confidence alone rewards a blurred average that looks like some digit: say how many were the digit asked for.
  if (s1?.asked) {
    const cells = teachers.map((t) => ({ t, c: t.cells.get(first) })).filter((x) => x.c?.asked);
    const others = cells.map(({ t, c }) => [c!.asked!, ` for ${stepWord(c!.nfe)} ${t.label}`] as Part[]);
    // A teacher read more confidently than the student yet less often as the digit asked for: its digits are blurred averages.
    const blur = !!s1.confident && cells.some(({ c }) => c!.confident && c!.confident.value > s1.confident!.value && c!.asked!.value < s1.asked!.value);
    out.push([
      'Read as the digit asked for: ',
      s1.asked,
      ` of its ${stepWord(first)} digits`,
      ...(others.length > 0 ? [', against ', ...list(others)] : []),
      blur ? ' (a blurred average can be read confidently as some digit without being the one asked for).' : '.',
    ]);
  }
  return out;
}
