/**
 * Pure helpers behind <Text2ImgTable> (build time only, no DOM, no fs): the `text2img` section of models/eval.json
 * (written by scripts/eval/text2img.ts) as tables by guidance strength and for negative prompts, with captions
 * computed from the numbers, so that no sentence on the page assumes which way they came out.
 *
 * A missing section (or one without `byW`) gives null (the component shows a note instead); a field of the wrong
 * type gives "—", never a guess.
 */
import { ATTRIBUTES, ATTRIBUTE_WORDS, type Attribute } from '../../core/captions';
import { listOf, rate, type Rate } from './clipTables';
import { formatNumber, getPath } from './values';

/** A measured number with its text. */
export interface Shown {
  value: number;
  text: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Decimals of a CLIP score (a mean cosine similarity) and of a diversity (a mean distance between features). */
export const CLIP_SCORE_DIGITS = 3;
export const DIVERSITY_DIGITS = 2;
/** Decimals of a change in percentage points. */
export const POINTS_DIGITS = 1;

function shown(v: unknown, digits: number): Shown | null {
  const n = num(v);
  return n === null ? null : { value: n, text: formatNumber(n, { digits, sciBelow: 0 }) };
}

/** A setting such as w = 7.5 or s = 8.5 as written (no padding decimals): "0", "7.5", "0.25". */
export function settingText(x: number): string {
  const decimals = (String(x).split('.')[1] ?? '').length;
  return formatNumber(x, { digits: Math.min(decimals, 3), bounds: [] });
}

/** A change between two shares in percentage points, signed: +12.0, −4.0, 0.0. */
export function pointsText(delta: number): string {
  const p = delta * 100;
  const t = formatNumber(Math.abs(p), { digits: POINTS_DIGITS, bounds: [] });
  return Number(t) === 0 ? t : `${p > 0 ? '+' : '−'}${t}`;
}

export interface WordCell {
  word: string;
  /** Share of the samples of "a <word> <digit>" whose measured attribute is in the word's bin. */
  binShare: Rate | null;
  /** Share of the same samples read as the prompted digit. */
  digitShare: Rate | null;
  clipScore: Shown | null;
}

export interface AttributeCell {
  attribute: Attribute;
  /** Mean over the attribute's three words of the share in the prompted bin; null unless all three are present. */
  mean: Rate | null;
  words: WordCell[];
}

export interface GuidanceRow {
  w: number;
  /** Stable Diffusion's scale s = 1 + w. */
  s: number;
  wText: string;
  sText: string;
  /** "the digit k" prompts: share read as k, mean classifier confidence, CLIP score, within-prompt diversity. */
  digitShare: Rate | null;
  confidence: Rate | null;
  clipScore: Shown | null;
  diversity: Shown | null;
  attributes: AttributeCell[];
}

export interface NegativeRow {
  word: string;
  attribute: Attribute;
  /** Share in the word's bin for "a <word> <digit>", without and with the word as negative prompt, and the change. */
  prompt: Rate | null;
  promptWithNegative: Rate | null;
  promptChange: Shown | null;
  /** The same for "the digit k" (no style word in the prompt). */
  plain: Rate | null;
  plainWithNegative: Rate | null;
  plainChange: Shown | null;
  /** Share of "a <word> <digit>" with the negative read as the prompted digit. */
  digitShareWithNegative: Rate | null;
}

export interface Text2ImgView {
  rows: GuidanceRow[];
  steps: number | null;
  samplesPerDigitPrompt: number | null;
  samplesPerWordPrompt: number | null;
  /** The guidance strength of the negative-prompt runs. */
  negW: number | null;
  /** Chance levels: a digit in ten, a bin in three. */
  chance: { digit: Rate; bin: Rate };
  /** Within-class diversity of real held-out digits on the same features (eval.json `latent.realDiversity`), if present. */
  realDiversity: Shown | null;
  negative: NegativeRow[];
  params: { denoiser: number | null; clipText: number | null };
  latentShape: number[] | null;
  contextLength: number | null;
}

/** Chance levels as the tables print them. */
const CHANCE = {
  digit: { value: 0.1, text: formatNumber(0.1, { percent: true, digits: 0 }) },
  bin: { value: 1 / 3, text: formatNumber(1 / 3, { percent: true, digits: 1 }) },
};

function change(a: Rate | null, b: Rate | null): Shown | null {
  if (!a || !b) return null;
  const d = b.value - a.value;
  return { value: d * 100, text: pointsText(d) };
}

/**
 * The measured tables of a parsed models/eval.json's `text2img` section, or null without one (or without a usable
 * `byW`). Rows are sorted by w.
 */
export function text2imgTables(evalJson: unknown): Text2ImgView | null {
  const sec = getPath(evalJson, 'text2img');
  if (sec === null || typeof sec !== 'object' || Array.isArray(sec)) return null;
  const byW = getPath(sec, 'byW');
  if (byW === null || typeof byW !== 'object' || Array.isArray(byW)) return null;

  const rows: GuidanceRow[] = [];
  for (const [key, r] of Object.entries(byW as Record<string, unknown>)) {
    const w = num(getPath(r, 'w')) ?? num(Number(key));
    if (w === null) continue;
    const d = getPath(r, 'digits');
    const attributes: AttributeCell[] = ATTRIBUTES.map((a) => {
      const words: WordCell[] = ATTRIBUTE_WORDS[a].map((word) => {
        const c = getPath(r, `words[${word}]`);
        return { word, binShare: rate(getPath(c, 'binShare')), digitShare: rate(getPath(c, 'digitShare')), clipScore: shown(getPath(c, 'clipScore'), CLIP_SCORE_DIGITS) };
      });
      const all = words.map((x) => x.binShare);
      const mean = all.every((x): x is Rate => x !== null) ? rate(all.reduce((s, x) => s + x.value, 0) / all.length) : null;
      return { attribute: a, mean, words };
    });
    rows.push({
      w,
      s: 1 + w,
      wText: settingText(w),
      sText: settingText(1 + w),
      digitShare: rate(getPath(d, 'digitShare')),
      confidence: rate(getPath(d, 'meanConfidence')),
      clipScore: shown(getPath(d, 'clipScore'), CLIP_SCORE_DIGITS),
      diversity: shown(getPath(d, 'diversity'), DIVERSITY_DIGITS),
      attributes,
    });
  }
  if (rows.length === 0) return null;
  rows.sort((a, b) => a.w - b.w);

  const negative: NegativeRow[] = [];
  const neg = getPath(sec, 'negative');
  if (neg !== null && typeof neg === 'object' && !Array.isArray(neg)) {
    for (const a of ATTRIBUTES) {
      for (const word of ATTRIBUTE_WORDS[a]) {
        const n = getPath(neg, `[${word}]`);
        if (n === undefined || n === null || typeof n !== 'object') continue;
        const prompt = rate(getPath(n, 'prompt'));
        const promptWithNegative = rate(getPath(n, 'promptWithNegative'));
        const plain = rate(getPath(n, 'plain'));
        const plainWithNegative = rate(getPath(n, 'plainWithNegative'));
        negative.push({
          word,
          attribute: a,
          prompt,
          promptWithNegative,
          promptChange: change(prompt, promptWithNegative),
          plain,
          plainWithNegative,
          plainChange: change(plain, plainWithNegative),
          digitShareWithNegative: rate(getPath(n, 'digitShareWithNegative')),
        });
      }
    }
  }

  const shape = getPath(sec, 'latentShape');
  return {
    rows,
    steps: num(getPath(sec, 'steps')),
    samplesPerDigitPrompt: num(getPath(sec, 'samplesPerDigitPrompt')),
    samplesPerWordPrompt: num(getPath(sec, 'samplesPerWordPrompt')),
    negW: num(getPath(sec, 'negW')),
    chance: CHANCE,
    realDiversity: shown(getPath(evalJson, 'latent.realDiversity'), DIVERSITY_DIGITS),
    negative,
    params: { denoiser: num(getPath(sec, 'params.denoiser')), clipText: num(getPath(sec, 'params.clipText')) },
    latentShape: Array.isArray(shape) && shape.every((x) => Number.isInteger(x)) ? (shape as number[]) : null,
    contextLength: num(getPath(sec, 'contextLength')),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Captions computed from the numbers
// ---------------------------------------------------------------------------------------------------------------

/** "w = 2", "w = 2 and 3", "w = 0, 1 and 5". */
function atW(ws: readonly string[]): string {
  return `w = ${listOf(ws)}`;
}

/**
 * How a measured quantity moves with w, read from the values as the table shows them: "rises from A at w = 0 to B at
 * w = 7.5", "falls from …", "stays at A", or "is highest at w = … (A) and lowest at w = … (B)". Null with fewer than
 * two values.
 */
export function trendText(points: readonly { wText: string; value: Shown | null }[]): string | null {
  const present = points.filter((p): p is { wText: string; value: Shown } => p.value !== null);
  if (present.length < 2) return null;
  // Compare what the reader sees: the shown texts' numbers.
  const v = present.map((p) => Number(p.value.text.replace(/[%,]/g, '').replace('−', '-')));
  const first = present[0];
  const last = present[present.length - 1];
  const up = v.every((x, i) => i === 0 || x >= v[i - 1]);
  const down = v.every((x, i) => i === 0 || x <= v[i - 1]);
  if (up && down) return `stays at ${first.value.text} from w = ${first.wText} to w = ${last.wText}`;
  if (up) return `rises from ${first.value.text} at w = ${first.wText} to ${last.value.text} at w = ${last.wText}`;
  if (down) return `falls from ${first.value.text} at w = ${first.wText} to ${last.value.text} at w = ${last.wText}`;
  const hi = Math.max(...v);
  const lo = Math.min(...v);
  const where = (x: number) => present.filter((_, i) => v[i] === x);
  const hiAt = where(hi);
  const loAt = where(lo);
  return `is highest at ${atW(hiAt.map((p) => p.wText))} (${hiAt[0].value.text}) and lowest at ${atW(loAt.map((p) => p.wText))} (${loAt[0].value.text})`;
}

/** The shares of one attribute (mean over its words) above, at or below its chance line at each w. */
export function versusChance(view: Text2ImgView, attribute: Attribute): { above: string[]; notAbove: string[] } {
  const above: string[] = [];
  const notAbove: string[] = [];
  for (const r of view.rows) {
    const m = r.attributes.find((a) => a.attribute === attribute)?.mean;
    if (!m) continue;
    // As shown: a share printed as 33.3% is not "above" the printed chance of 33.3%.
    if (Number(m.text.replace('%', '')) > Number(view.chance.bin.text.replace('%', ''))) above.push(r.wText);
    else notAbove.push(r.wText);
  }
  return { above, notAbove };
}

/** The sentences under the table by w: the digit share's and the diversity's trend, and the style words against chance. */
export function guidanceSummary(view: Text2ImgView): string[] {
  const out: string[] = [];
  const digit = trendText(view.rows.map((r) => ({ wText: r.wText, value: r.digitShare })));
  if (digit) out.push(`The share of “the digit k” samples read as k ${digit}.`);
  const div = trendText(view.rows.map((r) => ({ wText: r.wText, value: r.diversity })));
  if (div) out.push(`Their within-prompt diversity ${div}${view.realDiversity ? `; real held-out digits of one class measure ${view.realDiversity.text}` : ''}.`);
  const always: string[] = [];
  const never: string[] = [];
  const some: string[] = [];
  for (const a of ATTRIBUTES) {
    const { above, notAbove } = versusChance(view, a);
    if (above.length + notAbove.length === 0) continue;
    if (notAbove.length === 0) always.push(a);
    else if (above.length === 0) never.push(a);
    else some.push(`only at ${atW(above)} for ${a}`);
  }
  const n = view.rows.length;
  const parts: string[] = [];
  if (always.length) parts.push(`at ${n === 1 ? 'the one' : n === 2 ? 'both values of' : 'every'} w for ${listOf(always)}`);
  parts.push(...some);
  if (never.length) parts.push(`at no w for ${listOf(never)}`);
  if (parts.length) out.push(`Averaged over an attribute’s three words, the share in the prompted bin is above the chance line of ${view.chance.bin.text} ${listOf(parts)}.`);
  return out;
}

/** Counts of rows whose change (as shown) is negative, zero and positive. */
function changeCounts(changes: (Shown | null)[]): { lower: number; same: number; higher: number; total: number } {
  let lower = 0;
  let same = 0;
  let higher = 0;
  for (const c of changes) {
    if (!c) continue;
    if (c.text.startsWith('−')) lower++;
    else if (c.text.startsWith('+')) higher++;
    else same++;
  }
  return { lower, same, higher, total: lower + same + higher };
}

/** "lowers it for 7 of 9 words, leaves it for 1 and raises it for 1". */
function countsText(c: { lower: number; same: number; higher: number; total: number }): string {
  if (c.lower === c.total) return `lowers it for ${c.total === 1 ? 'the one word' : c.total === 2 ? 'both words' : `all ${c.total} words`}`;
  const parts = [`lowers it for ${c.lower} of ${c.total} words`];
  if (c.same) parts.push(`leaves it unchanged for ${c.same}`);
  if (c.higher) parts.push(`raises it for ${c.higher}`);
  return listOf(parts);
}

/** The mean of the shown changes, in points, as text; null without any. */
function meanChange(changes: (Shown | null)[]): string | null {
  const v = changes.filter((c): c is Shown => c !== null).map((c) => c.value);
  if (v.length === 0) return null;
  return pointsText(v.reduce((a, b) => a + b, 0) / v.length / 100);
}

/** A shown percentage as its number (60.0% → 60). */
const shownPercent = (r: Rate): number => Number(r.text.replace('%', ''));

/** A word's bin share in the row of guidance strength w, if the table has that row. */
function wordShareAt(view: Text2ImgView, w: number, word: string): Rate | null {
  const row = view.rows.find((r) => r.w === w);
  return row?.attributes.flatMap((a) => a.words).find((x) => x.word === word)?.binShare ?? null;
}

/**
 * The sentences under the negative-prompt table: how often the negative word lowers the share in its own bin, and
 * (with a w = 0 row in the table by w) how often "a <word> <digit>" with the word as its own negative falls below the
 * word's unguided share.
 */
export function negativeSummary(view: Text2ImgView): string[] {
  if (view.negative.length === 0) return [];
  const out: string[] = [];
  const withWord = view.negative.map((r) => r.promptChange);
  const plain = view.negative.map((r) => r.plainChange);
  const a = changeCounts(withWord);
  const b = changeCounts(plain);
  const ma = meanChange(withWord);
  const mb = meanChange(plain);
  if (a.total) out.push(`With the word in the prompt, naming it as the negative prompt too ${countsText(a)}${ma ? ` (mean change ${ma} points)` : ''}.`);
  if (b.total) out.push(`For “the digit k”, the negative word alone ${countsText(b)}${mb ? ` (mean change ${mb} points)` : ''}.`);
  let below = 0;
  let compared = 0;
  for (const r of view.negative) {
    const unguided = wordShareAt(view, 0, r.word);
    if (!unguided || !r.promptWithNegative) continue;
    compared++;
    if (shownPercent(r.promptWithNegative) < shownPercent(unguided)) below++;
  }
  if (compared) out.push(`With the word as its own negative, the share is below the same prompts’ unguided share (w = 0 in the table by w) for ${below} of ${compared} words.`);
  return out;
}

/** The sentence under the per-word table: which words' shares rise or fall from the first w to the last, and which end at or below chance. */
export function wordsSummary(view: Text2ImgView): string[] {
  if (view.rows.length < 2) return [];
  const first = view.rows[0];
  const last = view.rows[view.rows.length - 1];
  const rises: string[] = [];
  const falls: string[] = [];
  const same: string[] = [];
  const atOrBelow: string[] = [];
  for (const a of ATTRIBUTES) {
    for (const word of ATTRIBUTE_WORDS[a]) {
      const x = wordShareAt(view, first.w, word);
      const y = wordShareAt(view, last.w, word);
      if (!x || !y) continue;
      const d = shownPercent(y) - shownPercent(x);
      (d > 0 ? rises : d < 0 ? falls : same).push(word);
      if (shownPercent(y) <= shownPercent(view.chance.bin)) atOrBelow.push(word);
    }
  }
  const total = rises.length + falls.length + same.length;
  if (total === 0) return [];
  const group = (words: string[], verb: string) => (words.length === 0 ? null : words.length > total / 2 ? `${verb} for ${words.length} of ${total} words` : `${verb} for ${listOf(words)}`);
  const parts = [group(rises, 'rises'), group(falls, 'falls'), group(same, 'stays')].filter((x): x is string => x !== null);
  const out = [`From w = ${first.wText} to w = ${last.wText} the share ${listOf(parts)}.`];
  if (atOrBelow.length) out.push(`At w = ${last.wText}, ${listOf(atOrBelow)} ${atOrBelow.length === 1 ? 'is' : 'are'} at or below the chance line.`);
  return out;
}
