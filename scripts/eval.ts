/**
 * Evaluate the shipped models: `npm run eval -- [section …] [--set key=value …] [--out FILE]`
 * (node --import tsx scripts/eval.ts). A section is a file scripts/eval/<name>.ts default-exporting an
 * EvalSection (scripts/eval/common.ts); with no names every section runs. Each section's result is
 * deep-merged into models/eval.json[<name>] as soon as it finishes, so sections — or parts of one, chosen
 * with --set (e.g. `npm run eval -- unet --set rows=ddpm`) — can run in parallel processes and be re-run.
 *
 *   --set key=value   section option (repeatable); see each section's header comment
 *   --out FILE        eval.json to merge into (default models/eval.json)
 *   --backend wasm|cpu
 *   --list            list the sections
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { EvalContext, EvalSection } from './eval/common';
import { parseSet } from './lib/cli';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SECTIONS_DIR = join(ROOT, 'scripts', 'eval');
const HELPERS = new Set(['common']);

/** Section names = the .ts files of scripts/eval except the shared helpers (common.ts, files starting with '_'). */
export function listSections(): string[] {
  if (!existsSync(SECTIONS_DIR)) return [];
  return readdirSync(SECTIONS_DIR)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !HELPERS.has(n))
    .sort();
}

export async function loadSection(name: string): Promise<EvalSection> {
  const available = listSections();
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !available.includes(name)) {
    throw new Error(`unknown eval section "${name}"; available: ${available.join(', ') || '(none)'}`);
  }
  const mod = (await import(pathToFileURL(join(SECTIONS_DIR, `${name}.ts`)).href)) as { default?: EvalSection };
  if (!mod.default || mod.default.name !== name) throw new Error(`scripts/eval/${name}.ts must default-export an EvalSection named "${name}"`);
  return mod.default;
}


async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      set: { type: 'string', multiple: true },
      out: { type: 'string' },
      backend: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^\/\*\*?|^ \* ?/gm, '') + '\n');
    return 0;
  }
  if (values.list) {
    for (const name of listSections()) process.stdout.write(`${name.padEnd(14)} ${(await loadSection(name)).title}\n`);
    return 0;
  }
  const names = positionals.length ? positionals : listSections();
  const sections = await Promise.all(names.map(loadSection));
  const outFile = resolve(values.out ?? join(ROOT, 'models', 'eval.json'));

  const { initBackend } = await import('../src/core/backends');
  const { decodeMnistFile } = await import('../src/core/data');
  const { DATA_FILE, prepareData } = await import('./prepare-data');
  const { heldOutFeatures, loadClassifierFromDir, mergeEvalJson } = await import('./eval/common');
  const requested = values.backend;
  if (requested && requested !== 'wasm' && requested !== 'cpu') throw new Error(`--backend must be wasm or cpu in Node, got ${requested}`);
  const backend = await initBackend({ order: requested ? [requested as 'wasm' | 'cpu'] : ['wasm', 'cpu'] });
  const log = (s: string) => process.stderr.write(`[eval ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
  prepareData({ log });
  const data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)), DATA_FILE);
  const classifier = loadClassifierFromDir(join(ROOT, 'models', 'classifier-mnist'));
  try {
    const ctx: EvalContext = {
      root: ROOT,
      data,
      classifier,
      heldOut: await heldOutFeatures(classifier, data.test),
      options: parseSet(values.set),
      backend,
      cacheDir: join(ROOT, '.cache', 'eval'),
      log,
    };
    for (const section of sections) {
      log(`${section.name}: ${section.title}`);
      const t0 = performance.now();
      const result = await section.run(ctx);
      let merged = mergeEvalJson(outFile, section.name, result);
      const extra = await section.finish?.(merged, ctx);
      if (extra) merged = mergeEvalJson(outFile, section.name, extra);
      log(`${section.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s; merged into ${outFile}`);
      process.stdout.write(`\n## ${section.name}: ${section.title}\n\n${section.format ? section.format(merged) : JSON.stringify(merged, null, 1)}\n`);
    }
  } finally {
    classifier.dispose();
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`eval: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
