import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WIDGET_NAMES } from '../../src/lib/widgetNames';

const ROOT = join(import.meta.dirname, '../..');
const widgetFiles = readdirSync(join(ROOT, 'src/widgets')).filter((f) => f.endsWith('.svelte'));
/** data-widget name of each widget component, read from its source. */
const nameOf = new Map(
  widgetFiles.flatMap((f) => {
    const m = readFileSync(join(ROOT, 'src/widgets', f), 'utf8').match(/<Widget name="([a-z0-9-]+)"/);
    return m ? [[f.replace('.svelte', ''), m[1]] as const] : [];
  }),
);
const lessons = readdirSync(join(ROOT, 'content/lessons'))
  .filter((f) => f.endsWith('.mdx'))
  .map((f) => {
    const src = readFileSync(join(ROOT, 'content/lessons', f), 'utf8');
    const front = src.split('---')[1];
    const list = (key: string) => (front.match(new RegExp(`^${key}: \\[(.*)\\]$`, 'm'))?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const imported = [...src.matchAll(/from '\.\.\/\.\.\/src\/widgets\/(\w+)\.astro'/g)].map((m) => nameOf.get(m[1])).filter(Boolean);
    return { id: f.replace('.mdx', ''), order: Number(front.match(/^order: (\d+)$/m)?.[1]), widgets: list('widgets'), prerequisites: list('prerequisites'), imported };
  });

describe('lesson headers', () => {
  it('name every widget of the site, and only those', () => {
    expect([...nameOf.values()].sort()).toEqual(Object.keys(WIDGET_NAMES).sort());
  });

  it('list exactly the widgets each lesson embeds, and prerequisites that come earlier', () => {
    expect(lessons.length).toBeGreaterThanOrEqual(10);
    const order = new Map(lessons.map((l) => [l.id, l.order]));
    for (const l of lessons) {
      expect(l.widgets.sort(), l.id).toEqual([...new Set(l.imported)].sort());
      for (const p of l.prerequisites) expect(order.get(p) ?? Infinity, `${l.id} ← ${p}`).toBeLessThan(l.order);
    }
  });
});
