/**
 * Reviewing code that came with a link (Cell.svelte): a line diff against the lesson's code, and each line cut into
 * segments that make hidden content visible — bidi controls and invisible characters become `⟨U+202E⟩`-style
 * escapes, and long or trailing runs of spaces become a marker (`⟶ 220 spaces`), so code pushed far to the right
 * of an innocent line, or reordered by a right-to-left override, cannot pass for what it is not.
 * Pure functions, no DOM.
 */

export type DiffOp = 'same' | 'add' | 'del';

export interface DiffLine {
  op: DiffOp;
  text: string;
  /** Line number in the original (same, del). */
  oldNo?: number;
  /** Line number in the new code (same, add). */
  newNo?: number;
}

/** Above this many table cells (changed lines before × after), the changed block is shown as all removed then all added. */
export const MAX_DIFF_CELLS = 1_000_000;

/**
 * A line diff of `after` against `before` (lines split on `\n` only, so `\r` stays visible in the line): the longest
 * common subsequence of lines, after trimming the common head and tail. Within a change, removals come first.
 */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: DiffLine[] = [];
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) {
    out.push({ op: 'same', text: a[head], oldNo: head + 1, newNo: head + 1 });
    head++;
  }
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const n = a.length - head - tail;
  const m = b.length - head - tail;
  const del = (i: number) => out.push({ op: 'del', text: a[head + i], oldNo: head + i + 1 });
  const add = (j: number) => out.push({ op: 'add', text: b[head + j], newNo: head + j + 1 });
  if (n * m > MAX_DIFF_CELLS) {
    for (let i = 0; i < n; i++) del(i);
    for (let j = 0; j < m; j++) add(j);
  } else {
    // L[i][j] = length of the LCS of a[head+i..] and b[head+j..] (the middle block only).
    const w = m + 1;
    const L = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        L[i * w + j] = a[head + i] === b[head + j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[head + i] === b[head + j]) {
        out.push({ op: 'same', text: a[head + i], oldNo: head + i + 1, newNo: head + j + 1 });
        i++;
        j++;
      } else if (j >= m || (i < n && L[(i + 1) * w + j] >= L[i * w + j + 1])) del(i++);
      else add(j++);
    }
  }
  for (let k = tail; k > 0; k--) out.push({ op: 'same', text: a[a.length - k], oldNo: a.length - k + 1, newNo: b.length - k + 1 });
  return out;
}

export interface DiffSummary {
  added: number;
  removed: number;
  unchanged: number;
}

export function summarize(diff: DiffLine[]): DiffSummary {
  const s = { added: 0, removed: 0, unchanged: 0 };
  for (const d of diff) {
    if (d.op === 'add') s.added++;
    else if (d.op === 'del') s.removed++;
    else s.unchanged++;
  }
  return s;
}

export type HiddenKind = 'bidi' | 'invisible';

const NAMES: Record<number, string> = {
  0x00: 'NULL',
  0x08: 'BACKSPACE',
  0x0b: 'LINE TABULATION',
  0x0c: 'FORM FEED',
  0x0d: 'CARRIAGE RETURN (a line break for JavaScript)',
  0x1b: 'ESCAPE',
  0x7f: 'DELETE',
  0x85: 'NEXT LINE',
  0xa0: 'NO-BREAK SPACE',
  0xad: 'SOFT HYPHEN',
  0x034f: 'COMBINING GRAPHEME JOINER',
  0x061c: 'ARABIC LETTER MARK',
  0x115f: 'HANGUL CHOSEONG FILLER',
  0x1160: 'HANGUL JUNGSEONG FILLER',
  0x180e: 'MONGOLIAN VOWEL SEPARATOR',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x2028: 'LINE SEPARATOR (a line break for JavaScript)',
  0x2029: 'PARAGRAPH SEPARATOR (a line break for JavaScript)',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x202f: 'NARROW NO-BREAK SPACE',
  0x2060: 'WORD JOINER',
  0x2061: 'FUNCTION APPLICATION',
  0x2062: 'INVISIBLE TIMES',
  0x2063: 'INVISIBLE SEPARATOR',
  0x2064: 'INVISIBLE PLUS',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0x3000: 'IDEOGRAPHIC SPACE',
  0x3164: 'HANGUL FILLER',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE (BOM)',
  0xffa0: 'HALFWIDTH HANGUL FILLER',
};

const FORMAT = /^\p{Cf}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;

/**
 * Whether a character is hidden from a reader: 'bidi' for the controls that reorder how text is displayed
 * (U+202A–202E, U+2066–2069, U+200E/200F, U+061C), 'invisible' for other format characters (zero-width ones,
 * U+FEFF, tags…), C0/C1 controls other than tab and line feed (`\r` is a line break for JavaScript), the line and
 * paragraph separators, spaces other than U+0020, fillers and variation selectors; null for anything visible.
 */
export function hiddenKind(cp: number): HiddenKind | null {
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp === 0x200e || cp === 0x200f || cp === 0x061c) return 'bidi';
  if (cp === 0x09 || cp === 0x0a) return null;
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return 'invisible';
  if (cp === 0x2028 || cp === 0x2029) return 'invisible';
  if (cp === 0x115f || cp === 0x1160 || cp === 0x3164 || cp === 0xffa0 || cp === 0x034f || cp === 0x2800) return 'invisible';
  if ((cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef) || (cp >= 0x180b && cp <= 0x180f)) return 'invisible';
  if (cp < 0xa0) return null;
  const ch = String.fromCodePoint(cp);
  if (FORMAT.test(ch)) return 'invisible';
  if (SPACE_SEPARATOR.test(ch)) return 'invisible';
  return null;
}

/** `⟨U+202E⟩` */
export function escapeLabel(cp: number): string {
  return `⟨U+${cp.toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

export function charName(cp: number): string {
  if (NAMES[cp]) return NAMES[cp];
  if ((cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef)) return 'VARIATION SELECTOR';
  if (cp >= 0xe0000 && cp <= 0xe007f) return 'TAG CHARACTER';
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return 'CONTROL CHARACTER';
  return hiddenKind(cp) === 'bidi' ? 'BIDI CONTROL' : 'INVISIBLE CHARACTER';
}

/** Runs of spaces/tabs at least this long inside a line are shown as a marker. */
export const LONG_SPACE_RUN = 12;
/** Indentation (at the start of a line) is shown as a marker from this length. */
export const LONG_INDENT = 40;
/** Lines longer than this (characters) are marked as long; the review wraps every line. */
export const LONG_LINE = 160;

export type Segment =
  | { kind: 'text'; text: string }
  /** A hidden character, shown as `label` (`⟨U+202E⟩`) and named for tooltips and screen readers. */
  | { kind: 'char'; cp: number; hidden: HiddenKind; label: string; name: string }
  /** A long (or trailing) run of spaces/tabs, shown as `label` (`⟶ 220 spaces`) instead of the blanks. */
  | { kind: 'space'; count: number; trailing: boolean; label: string; blanks: string };

function spaceLabel(run: string, trailing: boolean): string {
  const n = run.length;
  const tabs = run.split('\t').length - 1;
  const what = tabs === 0 ? (n === 1 ? 'space' : 'spaces') : tabs === n ? (n === 1 ? 'tab' : 'tabs') : 'spaces and tabs';
  return `⟶ ${n}${trailing ? ' trailing' : ''} ${what}`;
}

/**
 * One line cut into text, hidden characters and marked runs of blanks. Trailing blanks are always marked; blanks
 * before more content are marked from LONG_SPACE_RUN (LONG_INDENT at the start of the line). Joining the
 * segments' text with each hidden character and blank run restored gives the line back.
 */
export function visibleSegments(line: string): Segment[] {
  const out: Segment[] = [];
  let text = '';
  const flush = () => {
    if (text) out.push({ kind: 'text', text });
    text = '';
  };
  const chars = Array.from(line);
  let k = 0;
  while (k < chars.length) {
    const ch = chars[k];
    if (ch === ' ' || ch === '\t') {
      let end = k;
      while (end < chars.length && (chars[end] === ' ' || chars[end] === '\t')) end++;
      const run = chars.slice(k, end).join('');
      const trailing = end === chars.length;
      const threshold = k === 0 ? LONG_INDENT : LONG_SPACE_RUN;
      if (trailing || run.length >= threshold) {
        flush();
        out.push({ kind: 'space', count: run.length, trailing, label: spaceLabel(run, trailing), blanks: run });
      } else text += run;
      k = end;
      continue;
    }
    const cp = ch.codePointAt(0)!;
    const hidden = hiddenKind(cp);
    if (hidden) {
      flush();
      out.push({ kind: 'char', cp, hidden, label: escapeLabel(cp), name: charName(cp) });
    } else text += ch;
    k++;
  }
  flush();
  return out;
}

/** The original text of a segment (for checks: the segments of a line give the line back). */
export function segmentSource(s: Segment): string {
  if (s.kind === 'text') return s.text;
  if (s.kind === 'char') return String.fromCodePoint(s.cp);
  return s.blanks;
}

export interface HiddenChar {
  line: number;
  column: number;
  cp: number;
  hidden: HiddenKind;
  label: string;
  name: string;
}

export interface HiddenReport {
  bidi: number;
  invisible: number;
  total: number;
  /** The first occurrences (at most `limit`), with 1-based line and column (in characters). */
  first: HiddenChar[];
}

/** Every hidden character in the code (counts), with the first few located. */
export function findHidden(code: string, limit = 5): HiddenReport {
  const report: HiddenReport = { bidi: 0, invisible: 0, total: 0, first: [] };
  let line = 1;
  let column = 1;
  for (const ch of code) {
    if (ch === '\n') {
      line++;
      column = 1;
      continue;
    }
    const cp = ch.codePointAt(0)!;
    const hidden = hiddenKind(cp);
    if (hidden) {
      report[hidden]++;
      report.total++;
      if (report.first.length < limit) report.first.push({ line, column, cp, hidden, label: escapeLabel(cp), name: charName(cp) });
    }
    column++;
  }
  return report;
}

/** "2 bidi control characters and 1 invisible character" */
export function describeHidden(r: HiddenReport): string {
  const parts: string[] = [];
  if (r.bidi) parts.push(`${r.bidi} bidi control character${r.bidi === 1 ? '' : 's'}`);
  if (r.invisible) parts.push(`${r.invisible} invisible character${r.invisible === 1 ? '' : 's'}`);
  return parts.join(' and ');
}
