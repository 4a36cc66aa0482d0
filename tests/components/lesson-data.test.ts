import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GLOSSARY, lettersOf, mathOf, splitMath, usesSymbol, type GlossaryEntry } from '../../src/components/lesson/glossary';
import { citationsIn, referenceProblems, REFERENCES, type Reference } from '../../src/components/lesson/references';

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

  it('have a key, a year, a venue and an arXiv id that agree with each other', () => {
    const problems = REFERENCES.flatMap((r) => referenceProblems(r).map((p) => `${r.key}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('flag the inconsistencies the check is for', () => {
    const base: Reference = { key: 'lu2022', authors: 'Cheng Lu', year: 2022, title: 'DPM-Solver', venue: 'NeurIPS 2022', arxiv: '2206.00927', note: '' };
    expect(referenceProblems(base)).toEqual([]);
    expect(referenceProblems({ ...base, key: 'poole2022', year: 2023, venue: 'ICLR 2023' }).join()).toMatch(/names 2022/);
    expect(referenceProblems({ ...base, key: 'ho2022', venue: 'NeurIPS 2021 Workshop on Deep Generative Models' }).join()).toMatch(/does not name the year/);
    expect(referenceProblems({ ...base, key: 'saharia2021', year: 2021, venue: 'IEEE TPAMI 2021', arxiv: '2204.07636' }).join()).toMatch(/before the arXiv posting/);
    expect(referenceProblems({ ...base, key: 'x2030', year: 2030, venue: '2030', arxiv: '2211.01095' }).join()).toMatch(/more than 3 years after/);
    expect(referenceProblems({ ...base, arxiv: '2213.01095' }).join()).toMatch(/YYMM/);
  });

  it('are cited with their own year and first author, and by a name their title or note contains', () => {
    const byKey = new Map(REFERENCES.map((r) => [r.key, r]));
    const wrong: string[] = [];
    for (const [slug, body] of lessonBodies()) {
      for (const m of body.matchAll(/\[([^\]]+)\]\(\.\.\/\.\.\/references\/#([A-Za-z0-9_-]+)\)/g)) {
        const [, text, key] = m;
        const r = byKey.get(key);
        if (!r) continue;
        const year = /\b(\d{4})\b/.exec(text)?.[1];
        if (year !== undefined) {
          const surname = text.replace(/\s*(et al\.?|&|and)\s*.*$/, '').replace(/\s*\d{4}.*$/, '').split(/[\s,]+/).pop() ?? '';
          if (Number(year) !== r.year) wrong.push(`${slug}: "${text}" → ${key} (${r.year})`);
          if (!r.authors.includes(surname)) wrong.push(`${slug}: "${text}" → ${key}: no author ${surname}`);
        } else if (!`${r.title} ${r.note}`.toLowerCase().includes(text.toLowerCase()) && !r.authors.includes(text.split(/[\s,&]+/)[0])) {
          wrong.push(`${slug}: "${text}" → ${key}: neither an author nor the title or note`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('cover every citation the lessons make', () => {
    const keys = new Set(REFERENCES.map((r) => r.key));
    const missing: string[] = [];
    for (const [slug, body] of lessonBodies()) for (const k of citationsIn(body)) if (!keys.has(k)) missing.push(`${slug}: ${k}`);
    expect(missing).toEqual([]);
  });
});
