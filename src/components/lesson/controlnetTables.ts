/**
 * Pure helpers behind <ControlNetTable> (build time only, no DOM, no fs): the `controlnet` section of
 * models/eval.json (written by scripts/eval/controlnet.ts) as one table by control scale λ, with a caption computed
 * from the numbers, so that no sentence on the page assumes which way they came out. A missing section gives null
 * (the component shows a note); a malformed field gives "—", never a guess.
 */
import { rate, type Rate } from './clipTables';
import { settingText } from './text2imgTables';
import { formatNumber, getPath } from './values';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export interface Measured {
  value: number;
  text: string;
}
const measured = (v: unknown, digits: number): Measured | null => {
  const n = num(v);
  return n === null ? null : { value: n, text: formatNumber(n, { digits, sciBelow: 0 }) };
};

export interface ControlRowView {
  scale: number;
  scaleText: string;
  chamfer: Measured | null;
  f1: Measured | null;
  agree: Rate | null;
  diversity: Measured | null;
  conflictRequested: Rate | null;
  conflictHint: Rate | null;
}

export interface ControlNetView {
  w: number;
  hints: number | null;
  steps: number | null;
  rows: ControlRowView[];
}

/** The table at guidance w (the first measured w when absent), or null without the section. */
export function controlnetTable(evalJson: unknown, w?: number): ControlNetView | null {
  const byW = getPath(evalJson, 'controlnet.byW');
  if (!byW || typeof byW !== 'object') return null;
  const keys = Object.keys(byW as object);
  const key = w === undefined ? keys[0] : keys.find((k) => Number(k) === w);
  if (key === undefined) return null;
  const list = (byW as Record<string, unknown>)[key];
  if (!Array.isArray(list)) return null;
  const rows = list
    .map((r) => r as Record<string, unknown>)
    .filter((r) => num(r.scale) !== null)
    .map((r) => ({
      scale: r.scale as number,
      scaleText: settingText(r.scale as number),
      chamfer: measured(r.chamfer, 2),
      f1: measured(r.f1, 2),
      agree: rate(r.agree),
      diversity: measured(r.diversity, 2),
      conflictRequested: rate(r.conflictRequested),
      conflictHint: rate(r.conflictHint),
    }));
  return { w: Number(key), hints: num(getPath(evalJson, 'controlnet.hints')), steps: num(getPath(evalJson, 'controlnet.steps')), rows };
}

/** Sentences read off the numbers: how much closer λ = 1 follows the hint than λ = 0, and who wins a conflict. */
export function controlnetSummary(view: ControlNetView): string[] {
  const at = (s: number) => view.rows.find((r) => r.scale === s);
  const r0 = at(0);
  const r1 = at(1);
  const out: string[] = [];
  if (r0?.chamfer && r1?.chamfer && r1.chamfer.value > 0) {
    const ratio = r0.chamfer.value / r1.chamfer.value;
    out.push(`At λ = 1 a sample’s skeleton lies on average ${r1.chamfer.text} px from the hint, against ${r0.chamfer.text} px for the frozen model alone (λ = 0): ${formatNumber(ratio, { digits: 1 })} times ${ratio >= 1 ? 'closer' : 'farther'}.`);
  }
  if (r1?.agree) out.push(`The classifier reads ${r1.agree.text} of those samples as the requested digit.`);
  if (r0?.conflictRequested && r1?.conflictRequested && r1.conflictHint) {
    out.push(`When the hint is drawn from another digit, the requested digit is read in ${r0.conflictRequested.text} of samples at λ = 0 and ${r1.conflictRequested.text} at λ = 1, the hint’s digit in ${r1.conflictHint.text} at λ = 1.`);
  }
  return out;
}
