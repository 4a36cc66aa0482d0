import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUESTS, WIDGET_FEEDS, WIDGET_STATE } from '../../src/workers/api';
import { boundsOf, type ParamSpec } from '../../src/workers/params';

const ROOT = join(import.meta.dirname, '../..');
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const svelteFiles = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.svelte')).map((f) => `${dir}/${f}`);
const WIDGETS = svelteFiles('src/widgets').filter((f) => !f.endsWith('/Cell.svelte'));
/** Widgets that never ask the worker (x_t on plain arrays in the page): every rule below but useCompute applies. */
const WORKER_FREE = ['src/widgets/DissolveDigit.svelte'];
const CONTROLS = [...WIDGETS, ...svelteFiles('src/widgets/ui')];

describe('the compute catalogue is the one declaration of every parameter', () => {
  it('declares every request the worker handles, and the worker handles every declared request', () => {
    const handlers = read('src/workers/handlers.ts');
    for (const kind of Object.keys(REQUESTS)) {
      if (kind === 'init') continue;
      expect(handlers, kind).toMatch(new RegExp(`(^|\\s)'?${kind.replace('.', '\\.')}'?: `, 'm'));
    }
  });

  it('gives every widget value either a request parameter itself or a view-only declaration of its own', () => {
    const requestSpecs = new Set(Object.values(REQUESTS).flatMap((specs) => Object.values(specs as Record<string, ParamSpec>)));
    let shared = 0;
    for (const specs of Object.values(WIDGET_STATE)) for (const spec of Object.values(specs)) if (requestSpecs.has(spec)) shared++;
    expect(shared).toBeGreaterThan(20);
    // Where a widget offers its own choices for a request parameter, they lie within the parameter's bounds.
    for (const [widget, feed] of Object.entries(WIDGET_FEEDS)) {
      for (const [key, param] of Object.entries(feed!.params)) {
        const mine = (WIDGET_STATE as Record<string, Record<string, ParamSpec>>)[widget][key];
        const theirs = (REQUESTS as Record<string, Record<string, ParamSpec>>)[feed!.request][param];
        const { min, max } = boundsOf(theirs);
        const values = mine.type === 'choice' ? mine.values : [boundsOf(mine).min!, boundsOf(mine).max!];
        for (const v of values) {
          expect(v, `${widget}.${key}`).toBeGreaterThanOrEqual(min!);
          expect(v, `${widget}.${key}`).toBeLessThanOrEqual(max!);
        }
      }
    }
  });

  it('leaves no bound in a widget: controls take min, max, step and options from the declaration', () => {
    for (const file of CONTROLS) {
      const src = read(file);
      // a literal bound on a control, e.g. <input type="range" min="0" max="10"> or min={5}
      expect(src, file).not.toMatch(/\b(min|max|step)=("[-+\d.e]+"|\{\s*[-+\d.e_]+\s*\})/);
      // a parameter declared in the widget rather than in the catalogue
      expect(src, file).not.toMatch(/type: '(int|float|enum|choice|bool)', default:/);
      expect(src, file).not.toMatch(/defineUrlState\(/);
    }
    for (const file of WIDGETS) {
      const src = read(file);
      // a clamp of a value the declaration already bounds
      expect(src, file).not.toMatch(/Math\.(min|max)\(\s*\d+\s*,\s*Math\.(min|max)/);
      // the URL state is the declaration itself, or (the race's `lanes` prop) the declaration with other lane defaults
      expect(src, file).toMatch(/const SPEC = WIDGET_STATE\.\w+;[\s\S]*urlState\(id, (SPEC\)|raceStateWithLanes\(SPEC, )/);
      if (!WORKER_FREE.includes(file)) expect(src, file).toMatch(/useCompute\(/);
      for (const m of src.matchAll(/<input [^>]*type="(range|number)"[^>]*>/g)) expect(m[0], file).toMatch(/min=\{SPEC\.\w+\.min\}/);
    }
  });

  it('keeps the handlers free of clamps: they receive clean values', () => {
    for (const file of ['src/workers/handlers.ts', 'src/workers/lab.ts', 'src/workers/clip.ts', 'src/workers/text2img.ts', 'src/workers/controlnet.ts', 'src/workers/flow2d.ts']) {
      expect(read(file), file).not.toMatch(/Math\.(min|max)\(/);
    }
  });
});
