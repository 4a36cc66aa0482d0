import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GLOSSARY, lettersOf, mathOf, splitMath, usesSymbol, type GlossaryEntry } from '../../src/components/lesson/glossary';
import { citationsIn, REFERENCES } from '../../src/components/lesson/references';

const LESSONS = join(process.cwd(), 'content', 'lessons');
const lessonBodies = (): Map<string, string> =>
  new Map(
    readdirSync(LESSONS)
      .filter((f) => f.endsWith('.mdx'))
      .map((f) => [f.replace(/\.mdx$/, ''), readFileSync(join(LESSONS, f), 'utf8')]),
  );
const entry = (id: string): GlossaryEntry => {
  const e = GLOSSARY.find((g) => g.id === id);
  if (!e) throw new Error(`no glossary entry ${id}`);
  return e;
};

describe('mathOf', () => {
  it('collects inline and display maths and ignores prose and fenced code', () => {
    const body = ['Some prose with beta in words.', '```ts', 'const s = `${x}` + "$\\\\alpha$";', '```', 'Inline $\\beta_t$ and', '$$', '\\bar\\alpha_t = 1', '$$'].join('\n');
    const math = mathOf(body);
    expect(math).toContain('\\beta_t');
    expect(math).toContain('\\bar\\alpha_t = 1');
    expect(math).not.toContain('prose');
    expect(math).not.toContain('${x}');
  });
});

describe('usesSymbol', () => {
  it('tells ᾱ from α and β̃ from β', () => {
    expect(usesSymbol(entry('alphabar'), '\\bar\\alpha_t')).toBe(true);
    expect(usesSymbol(entry('alpha'), '\\bar\\alpha_t')).toBe(false);
    expect(usesSymbol(entry('alpha'), '\\sqrt{\\alpha_t}')).toBe(true);
    expect(usesSymbol(entry('beta'), '\\tilde\\beta_t')).toBe(false);
    expect(usesSymbol(entry('betatilde'), '\\tilde\\beta_t')).toBe(true);
    expect(usesSymbol(entry('eps'), '\\varepsilon_\\theta(x_t, t)')).toBe(false);
    expect(usesSymbol(entry('epstheta'), '\\varepsilon_\\theta(x_t, t)')).toBe(true);
  });

  it('finds single letters only where they stand alone, not inside words or commands', () => {
    expect(usesSymbol(entry('s'), 'L_{\\text{simple}} = \\sqrt{\\sigma}')).toBe(false);
    expect(usesSymbol(entry('s'), '\\prod_{s=1}^{t} \\alpha_s')).toBe(true);
    expect(usesSymbol(entry('t'), 'x_t')).toBe(true);
    expect(usesSymbol(entry('t'), '\\theta \\sqrt{2}')).toBe(false);
    expect(usesSymbol(entry('d'), '\\mathrm{d}x/\\mathrm{d}t')).toBe(false);
    expect(usesSymbol(entry('n'), '\\mathcal{N}(0, I) \\ln 2')).toBe(false);
    expect(lettersOf('\\text{two words} + w')).not.toContain('two');
  });

  it('recognises every glossary symbol in its own TeX', () => {
    for (const g of GLOSSARY) expect(usesSymbol(g, g.tex), g.id).toBe(true);
  });
});

describe('splitMath', () => {
  it('splits prose into text and $…$ maths parts in order', () => {
    expect(splitMath('The image after $t$ steps: $x_t$.')).toEqual([
      { math: false, text: 'The image after ' },
      { math: true, text: 't' },
      { math: false, text: ' steps: ' },
      { math: true, text: 'x_t' },
      { math: false, text: '.' },
    ]);
    expect(splitMath('no maths')).toEqual([{ math: false, text: 'no maths' }]);
  });

  it('leaves every glossary meaning with balanced dollar signs', () => {
    for (const g of GLOSSARY) expect((g.meaning.match(/\$/g) ?? []).length % 2, g.id).toBe(0);
  });
});

describe('the glossary and the lessons', () => {
  it('has unique ids, and every symbol it lists appears in at least one lesson', () => {
    expect(new Set(GLOSSARY.map((g) => g.id)).size).toBe(GLOSSARY.length);
    const maths = [...lessonBodies().values()].map(mathOf);
    const unused = GLOSSARY.filter((g) => !maths.some((m) => usesSymbol(g, m))).map((g) => g.id);
    expect(unused).toEqual([]);
  });
});

describe('references', () => {
  it('have unique keys and well-formed arXiv identifiers', () => {
    expect(new Set(REFERENCES.map((r) => r.key)).size).toBe(REFERENCES.length);
    for (const r of REFERENCES) if (r.arxiv !== undefined) expect(r.arxiv, r.key).toMatch(/^\d{4}\.\d{4,5}$/);
  });

  it('are found in a lesson’s links in order of first appearance, without duplicates', () => {
    const body = 'See [Ho](../../references/#ho2020), then [DDIM](../../references/#song2021ddim) and [Ho again](../../references/#ho2020).';
    expect(citationsIn(body)).toEqual(['ho2020', 'song2021ddim']);
    expect(citationsIn('no citations here')).toEqual([]);
  });

  it('cover every citation the lessons make', () => {
    const keys = new Set(REFERENCES.map((r) => r.key));
    const missing: string[] = [];
    for (const [slug, body] of lessonBodies()) for (const k of citationsIn(body)) if (!keys.has(k)) missing.push(`${slug}: ${k}`);
    expect(missing).toEqual([]);
  });
});
