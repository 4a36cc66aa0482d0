// Reports, for every built page, the JavaScript it loads before any widget is activated (script tags,
// module preloads and inline scripts; island code loads only on activation), gzip-compressed. Also reports
// what each island adds when it activates. Run after `astro build`; `npm run build` does.
import { readFileSync, readdirSync, statSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const BUDGET_BYTES = 30 * 1024;
/** The notebook's editor + transpiler chunk (loaded when a reader focuses a cell). */
export const EDITOR_BUDGET_BYTES = 300 * 1024;

function htmlFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? htmlFiles(p) : name.endsWith('.html') ? [p] : [];
  });
}

const gz = (buf) => gzipSync(buf, { level: 9 }).length;

/** Follow static `import … from "./x.js"` edges inside built chunks (dynamic imports load on demand). */
function staticClosure(dist, urls) {
  const seen = new Set();
  const queue = [...urls];
  while (queue.length) {
    const url = queue.pop();
    if (seen.has(url)) continue;
    const file = join(dist, url);
    if (!existsSync(file)) continue;
    seen.add(url);
    const code = readFileSync(file, 'utf8');
    for (const m of code.matchAll(/(?:^|[;\s}])import\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+\.js)["']/g)) {
      queue.push(new URL(m[1], `http://x${url}`).pathname);
    }
  }
  return seen;
}

/** { page, initialJs (gzip bytes), islands: { component, gzip } } for every page in `dist`. */
export function reportJs(dist = join(ROOT, 'dist')) {
  return htmlFiles(dist)
    .map((file) => {
      const html = readFileSync(file, 'utf8');
      const page = '/' + relative(dist, file).replace(/index\.html$/, '').replace(/\\/g, '/');
      const srcs = [
        ...[...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]),
        ...[...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1]),
      ];
      const inline = [...html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
      const external = staticClosure(dist, srcs.filter((s) => s.startsWith('/')));
      const initialJs = [...external].reduce((n, u) => n + gz(readFileSync(join(dist, u))), 0) + (inline ? gz(Buffer.from(inline)) : 0);
      const islands = [...html.matchAll(/<astro-island[^>]*component-url="([^"]+)"[^>]*renderer-url="([^"]+)"/g)].map((m) => {
        const closure = staticClosure(dist, [m[1], m[2]]);
        return { component: m[1].split('/').pop(), gzip: [...closure].reduce((n, u) => n + gz(readFileSync(join(dist, u))), 0) };
      });
      return { page, initialJs, islands };
    })
    .sort((a, b) => a.page.localeCompare(b.page));
}

/** gzip bytes of the notebook editor chunk (CodeMirror + Sucrase + Acorn) with everything it imports statically. */
export function reportEditor(dist = join(ROOT, 'dist')) {
  const dir = join(dist, '_astro');
  const entry = existsSync(dir) ? readdirSync(dir).find((f) => /^cellEditor\.[\w-]+\.js$/.test(f)) : undefined;
  if (!entry) return null;
  const closure = staticClosure(dist, [`/_astro/${entry}`]);
  return { chunk: entry, files: closure.size, gzip: [...closure].reduce((n, u) => n + gz(readFileSync(join(dist, u))), 0) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rows = reportJs();
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log('\nJavaScript loaded before any widget is activated (gzip):');
  for (const r of rows) {
    const islands = [...new Map(r.islands.map((i) => [i.component, i])).values()];
    console.log(`  ${r.page.padEnd(36)} ${kb(r.initialJs).padStart(9)}${islands.length ? `   + on activation: ${islands.map((i) => `${i.component} ${kb(i.gzip)}`).join(', ')}` : ''}`);
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'js.json'), JSON.stringify(rows, null, 2));
  const editor = reportEditor();
  if (editor) console.log(`\nNotebook editor + transpiler, loaded when a reader focuses a cell: ${kb(editor.gzip)} gzip (${editor.files} files; budget ${kb(EDITOR_BUDGET_BYTES)})`);
  writeFileSync(join(ROOT, 'bench', 'results', 'editor.json'), JSON.stringify(editor, null, 2));
  if (editor && editor.gzip > EDITOR_BUDGET_BYTES) {
    console.error(`The notebook editor chunk is over its ${kb(EDITOR_BUDGET_BYTES)} budget`);
    process.exit(1);
  }
  const over = rows.filter((r) => r.islands.length === 0 && r.initialJs > BUDGET_BYTES);
  if (over.length) {
    console.error(`Pages without widgets over the ${kb(BUDGET_BYTES)} budget: ${over.map((r) => r.page).join(', ')}`);
    process.exit(1);
  }
}
