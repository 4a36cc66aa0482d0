/**
 * Checks on what the site tells its readers: `npm run check:content` (node --import tsx scripts/check-content.ts),
 * after `npm run build`. It fails (exit 1, one line per finding) when
 *
 * - a page of dist/ (its visible text, alt texts and labels) or a model card (models/**\/README.md, and the copies
 *   in dist/models/) speaks of how the project is organised: "session", "issue", "TODO", "budget", "missed", a
 *   target "met" or "missed" (PROCESS_PATTERNS);
 * - a number rendered on a page from a known value (`data-value` on the lesson components and schedule tables)
 *   reads as 0 or ±1 (or 0 % or 100 %) although the value is not exactly that;
 * - a parameter count (<ParamCount model="…">) differs from the number of values in the weights of the shipped
 *   model.json it names;
 * - a lesson (content/lessons/*.mdx) types an FD or accuracy figure of our models by hand instead of reading it
 *   from models/eval.json or a model's config.json through a component (mdxFigureFindings).
 *
 * The functions are pure (text in, findings out) so that tests/content/ can run them on the sources and on
 * examples; the file system is read only by the `check*` functions and the command line.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface Finding {
  /** File (relative to the repository) and, where known, line. */
  where: string;
  what: string;
}

/** Words and phrases about the project's own work organisation, which a reader has no use for. */
export const PROCESS_PATTERNS: readonly { name: string; re: RegExp }[] = [
  { name: 'session', re: /\bsessions?\b/i },
  { name: 'issue', re: /\bissues?\b/i },
  { name: 'TODO', re: /\b(?:TODO|FIXME|XXX)\b/ },
  { name: 'budget', re: /\bbudgets?\b/i },
  { name: 'missed', re: /\bmissed\b/i },
  { name: 'target met', re: /\btargets?\b[^.\n]{0,80}\b(?:met|not met)\b/i },
];

/** The process words in a text, one finding per line and pattern. */
export function processWordFindings(text: string, where: string): Finding[] {
  const out: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    for (const p of PROCESS_PATTERNS) {
      const m = p.re.exec(line);
      if (m) out.push({ where: `${where}:${i + 1}`, what: `process word "${m[0]}" (${p.name}): …${line.slice(Math.max(0, m.index - 50), m.index + m[0].length + 50).trim()}…` });
    }
  });
  return out;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/** Decode the HTML entities a built page uses. */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e.toLowerCase()] ?? all;
  });
}

/**
 * What a reader of a built page can read: the text outside <script>, <style>, comments and MathML annotations, plus
 * the alt, title and aria-label texts, line by line as in the file.
 */
export function visibleText(html: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  let s = html.replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1>/gi, blank).replace(/<!--[\s\S]*?-->/g, blank);
  s = s.replace(/<annotation\b[^>]*>[\s\S]*?<\/annotation>/gi, blank);
  s = s.replace(/<[^>]+>/g, (tag) => {
    const said = [...tag.matchAll(/\s(?:alt|title|aria-label)="([^"]*)"/gi)].map((m) => m[1]);
    return said.length ? ` ${said.join(' ')} ` : ' ';
  });
  return decodeEntities(s);
}

const SUPER = '⁰¹²³⁴⁵⁶⁷⁸⁹⁻';

/**
 * The number a rendered string shows, as formatNumber (src/components/lesson/values.ts) writes it: "1,234.5",
 * "−0.25", "99.95%" (as 0.9995); null for "—", "∞", "m × 10ⁿ" and anything else.
 */
export function shownNumber(text: string): number | null {
  const t = text.trim().replace(/−/g, '-').replace(/,/g, '');
  if ([...t].some((c) => SUPER.includes(c))) return null;
  const m = /^(-?\d+(?:\.\d+)?)(%?)$/.exec(t);
  if (!m) return null;
  return m[2] ? Number(m[1]) / 100 : Number(m[1]);
}

/** Elements with a data-value attribute and plain text content: [attributes, text]. */
function valueElements(html: string): { attrs: string; text: string; line: number }[] {
  const out: { attrs: string; text: string; line: number }[] = [];
  for (const m of html.matchAll(/<(span|td)\b([^>]*\bdata-value="[^"]*"[^>]*)>([^<]*)<\/\1>/g)) {
    out.push({ attrs: m[2], text: decodeEntities(m[3]), line: html.slice(0, m.index).split('\n').length });
  }
  return out;
}

const attr = (attrs: string, name: string): string | undefined => new RegExp(`\\b${name}="([^"]*)"`).exec(attrs)?.[1];

/**
 * Rendered numbers that read as a bound (0, ±1, 0 %, 100 %) their value does not reach: a decay of 0.9995 shown as
 * "1.000", a share of 0.0004 shown as "0%". Only elements that carry their value (data-value) can be checked.
 */
export function renderedNumberFindings(html: string, where: string): Finding[] {
  const out: Finding[] = [];
  for (const e of valueElements(html)) {
    const value = Number(decodeEntities(attr(e.attrs, 'data-value') ?? ''));
    const shown = shownNumber(e.text);
    if (shown === null || !Number.isFinite(value)) continue;
    const percent = e.text.trim().endsWith('%');
    const bounds = percent ? [0, 1] : [0, 1, -1];
    if (bounds.includes(shown) && shown !== value) out.push({ where: `${where}:${e.line}`, what: `"${e.text.trim()}" reads as ${percent ? `${shown * 100} %` : shown}, but the value is ${value}` });
  }
  return out;
}

/** Number of values in the weights of a parsed TensorFlow.js model.json. */
export function weightCount(modelJson: unknown): number {
  const groups = (modelJson as { weightsManifest?: { weights?: { shape?: number[] }[] }[] } | null)?.weightsManifest;
  if (!Array.isArray(groups)) throw new Error('model.json has no weightsManifest');
  let n = 0;
  for (const g of groups) for (const w of g.weights ?? []) n += (w.shape ?? []).reduce((a, b) => a * b, 1);
  return n;
}

/**
 * Parameter counts on a page (<span data-model="…"> written by ParamCount) that differ from the weights of the
 * model.json they name (`modelCount(model)`; a count for one part of a U-Net is not checked here).
 */
export function paramCountFindings(html: string, where: string, modelCount: (model: string) => number | null): Finding[] {
  const out: Finding[] = [];
  for (const e of valueElements(html)) {
    const model = attr(e.attrs, 'data-model');
    if (model === undefined || attr(e.attrs, 'data-part') !== undefined) continue;
    const expected = modelCount(model);
    const unit = attr(e.attrs, 'data-unit') ?? 'params';
    const shown = shownNumber(e.text);
    if (expected === null) out.push({ where: `${where}:${e.line}`, what: `a parameter count names ${model}, which has no model.json` });
    else if (unit === 'params' && shown !== expected) out.push({ where: `${where}:${e.line}`, what: `${model} has ${expected} parameters in its model.json, the page says ${e.text.trim()}` });
    else if (unit === 'kib16' && shown !== Math.round((expected * 2) / 1024)) out.push({ where: `${where}:${e.line}`, what: `${model} is ${Math.round((expected * 2) / 1024)} KiB as float16, the page says ${e.text.trim()}` });
  }
  return out;
}

/** A lesson's prose in blocks (paragraphs, list items, tables), without frontmatter, code, imports and exports. */
export function proseBlocks(mdx: string): { text: string; line: number }[] {
  const lines = mdx.split('\n');
  let i = 0;
  if (lines[0]?.trim() === '---') {
    i = 1;
    while (i < lines.length && lines[i].trim() !== '---') i++;
    i++;
  }
  const blocks: { text: string; line: number }[] = [];
  let cur: string[] = [];
  let start = i;
  let fence = false;
  const flush = () => {
    if (cur.length) blocks.push({ text: cur.join('\n'), line: start + 1 });
    cur = [];
  };
  for (; i < lines.length; i++) {
    const l = lines[i];
    if (/^\s*```/.test(l)) {
      fence = !fence;
      flush();
      continue;
    }
    if (fence || /^(import|export)\s/.test(l)) continue;
    if (l.trim() === '' || /^\s*[-*]\s|^\s*\d+\.\s/.test(l)) {
      flush();
      if (l.trim() === '') continue;
    }
    if (!cur.length) start = i;
    cur.push(l);
  }
  flush();
  return blocks;
}

/** Words that make a block of prose about the quality measurements of our own models. */
export const OUR_METRIC = /MNIST-FD|Fréchet|classifier(?![- ]free| guidance)|classified|recogni[sz]e|confiden|accuracy|requested digit/i;
/** The components that read a measured value of our models (models/eval.json, a model's config.json). */
export const MEASURED_COMPONENT = /<(?:EvalValue|ModelValue)\b/;
/** Words that make it about a published result instead (quoted from a paper, which the lesson cites). */
export const PUBLISHED = /references\/#|CIFAR|ImageNet|CelebA|LSUN|Inception|(?<!MNIST[- ])\bFID\b/;
/** The same, for one sentence of prose: also one that speaks of a paper ("the DDIM paper's own model"). */
export const PUBLISHED_SENTENCE = new RegExp(`${PUBLISHED.source}|\\bpapers?\\b`);

/**
 * Figures of our models typed into a lesson: a decimal number or a percentage in a paragraph about our measurements
 * (OUR_METRIC), in any of its sentences that does not quote a paper (PUBLISHED_SENTENCE), or in a measured cell of
 * a table that does not (PUBLISHED), outside components, {expressions} and maths. Such figures must come from
 * models/eval.json (EvalValue) or a model's config.json (ModelValue).
 */
export function mdxFigureFindings(mdx: string, where: string): Finding[] {
  const out: Finding[] = [];
  const plain = (text: string) =>
    text
      .replace(/<[A-Z][\w.]*\b[^>]*?\/>/gs, ' ')
      .replace(/\{[^{}]*\}/g, ' ')
      .replace(/\$\$[\s\S]*?\$\$|\$[^$\n]*\$/g, ' ')
      .replace(/`[^`\n]*`/g, ' ')
      .replace(/\]\([^)]*\)/g, ']');
  const report = (text: string, line: number) => {
    for (const m of text.matchAll(/(?<![\w.])\d+\.\d+(?![\w.])\s*(?:%|×)?|(?<![\w.])\d+\s*%/g)) {
      out.push({ where: `${where}:${line}`, what: `"${m[0].trim()}" typed into prose about our models' measurements: read it from models/eval.json or config.json with a component` });
    }
  };
  for (const b of proseBlocks(mdx)) {
    const rows = b.text.split('\n');
    if (rows.every((r) => r.trim().startsWith('|'))) {
      if (PUBLISHED.test(b.text)) continue;
      // A table: a cell holds a measurement when its column's header or its row's first cell names one, or when
      // another cell of its column reads a measured value through a component (a column of settings, such as the
      // guidance strengths w, holds only typed numbers and is not checked).
      const cells = (r: string) => r.trim().replace(/^\||\|$/g, '').split('|');
      const body = rows.slice(1).filter((r) => !/^\s*\|[\s:|-]+\|?\s*$/.test(r)).map(cells);
      const measuredColumn = cells(rows[0]).map((c, j) => OUR_METRIC.test(plain(c)) || body.some((r) => MEASURED_COMPONENT.test(r[j] ?? '')));
      rows.slice(1).forEach((r, k) => {
        if (/^\s*\|[\s:|-]+\|?\s*$/.test(r)) return;
        const cs = cells(r);
        const rowIsMetric = OUR_METRIC.test(plain(cs[0] ?? ''));
        cs.forEach((c, j) => {
          if (rowIsMetric || measuredColumn[j]) report(plain(c), b.line + 1 + k);
        });
      });
      continue;
    }
    // Prose: in a block about our measurements, every sentence that does not quote a paper.
    if (!OUR_METRIC.test(plain(b.text))) continue;
    for (const sentence of b.text.split(/(?<=[.!?:;])\s+(?=[A-Z(])/)) {
      if (!PUBLISHED_SENTENCE.test(sentence)) report(plain(sentence), b.line);
    }
  }
  return out;
}

/** Files under a folder (recursively) whose names pass `keep`. */
function walk(dir: string, keep: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, keep));
    else if (keep(name)) out.push(p);
  }
  return out;
}

/** The checks that read only the sources: lessons (process words, typed figures) and the model cards. */
export function checkSources(root: string): Finding[] {
  const out: Finding[] = [];
  for (const f of walk(join(root, 'content', 'lessons'), (n) => n.endsWith('.mdx'))) {
    const text = readFileSync(f, 'utf8');
    const rel = relative(root, f);
    out.push(...processWordFindings(text.replace(/^```[\s\S]*?^```/gm, (m) => m.replace(/[^\n]/g, ' ')), rel), ...mdxFigureFindings(text, rel));
  }
  for (const f of walk(join(root, 'models'), (n) => n === 'README.md')) out.push(...processWordFindings(readFileSync(f, 'utf8'), relative(root, f)));
  return out;
}

/** The checks on the built site: every page's visible text, rendered numbers and parameter counts, and the cards in dist/. */
export function checkDist(root: string): Finding[] {
  const dist = join(root, 'dist');
  const counts = new Map<string, number | null>();
  const modelCount = (model: string): number | null => {
    if (!counts.has(model)) {
      const file = join(root, 'models', model, 'model.json');
      counts.set(model, existsSync(file) ? weightCount(JSON.parse(readFileSync(file, 'utf8'))) : null);
    }
    return counts.get(model) ?? null;
  };
  const out: Finding[] = [];
  for (const f of walk(dist, (n) => n.endsWith('.html') || n.endsWith('.md'))) {
    const text = readFileSync(f, 'utf8');
    const rel = relative(root, f);
    if (f.endsWith('.md')) {
      out.push(...processWordFindings(text, rel));
      continue;
    }
    out.push(...processWordFindings(visibleText(text), rel), ...renderedNumberFindings(text, rel), ...paramCountFindings(text, rel, modelCount));
  }
  return out;
}

function main(): number {
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  if (!existsSync(join(root, 'dist', 'index.html'))) {
    process.stderr.write('check:content: dist/ has no built site; run `npm run build` first\n');
    return 1;
  }
  const findings = [...checkSources(root), ...checkDist(root)];
  for (const f of findings) process.stderr.write(`${f.where}: ${f.what}\n`);
  const pages = walk(join(root, 'dist'), (n) => n.endsWith('.html')).length;
  process.stderr.write(`check:content: ${findings.length} finding${findings.length === 1 ? '' : 's'} (${pages} pages, the lessons and the model cards)\n`);
  return findings.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exit(main());
