/**
 * The page's check of the kernel's output messages (src/workers/kernelProtocol.ts admitOutput): cell code runs in
 * the kernel and can post anything, so every item is type-checked and each run is held to a budget of items,
 * characters and image pixels, with one "output truncated" line where it stops. Also through the page-side Kernel:
 * a flood of fake items reaches the cell capped.
 */
import { describe, expect, it } from 'vitest';
import { Kernel, type WorkerLike } from '../../../src/widgets/notebook/kernel';
import { fakeChannel, type FakePort } from './fakeChannel';
import {
  admitOutput,
  MAX_IMAGE_SIDE,
  MAX_OUTPUT_ITEMS,
  MAX_PLOT_POINTS,
  MAX_RUN_CHARACTERS,
  MAX_RUN_PIXELS,
  MAX_TEXT,
  newOutputBudget,
  type FromKernel,
  type OutputItem,
  type ToKernel,
} from '../../../src/workers/kernelProtocol';

const log = (text: unknown, level: unknown = 'log') => ({ kind: 'log', level, text });
const image = (n: number, h: number, w: number, extra: Record<string, unknown> = {}) => ({ kind: 'images', n, h, w, channels: 1, cols: Math.min(n, 8), pixels: new Uint8ClampedArray(n * h * w), range: [0, 1], ...extra });

describe('admitOutput', () => {
  it('passes well-formed items through unchanged', () => {
    const b = newOutputBudget();
    for (const item of [log('hi'), { kind: 'text', text: 'x', label: 'y' }, image(2, 28, 28), { kind: 'plot', series: [{ name: 's', x: [0, 1], y: [1, 2] }], logY: true }]) {
      const r = admitOutput(item, b);
      expect(r.note).toBeNull();
      expect(r.item).toEqual(item);
    }
    expect(b.items).toBe(4);
    expect(b.pixels).toBe(2 * 28 * 28);
  });

  it.each([
    ['null', null],
    ['a string', 'hello'],
    ['an unknown kind', { kind: 'html', text: '<b>' }],
    ['a log without text', { kind: 'log', level: 'log' }],
    ['a log of an unknown level', log('x', 'shout')],
    ['text that is not a string', { kind: 'text', text: 42 }],
    ['pixels that are not a Uint8ClampedArray', image(1, 2, 2, { pixels: [0, 0, 0, 0] })],
    ['pixels of the wrong length', image(1, 2, 2, { pixels: new Uint8ClampedArray(3) })],
    ['an image wider than the page draws', image(1, 1, MAX_IMAGE_SIDE + 1)],
    ['a huge image (12,000 × 12,000)', image(1, 12000, 12000, { pixels: new Uint8ClampedArray(0) })],
    ['three channels claimed, two given', image(1, 2, 2, { channels: 2 })],
    ['a plot without series', { kind: 'plot', series: [] }],
    ['a plot whose x and y differ in length', { kind: 'plot', series: [{ name: 's', x: [0, 1], y: [1] }] }],
    ['a plot with strings for numbers', { kind: 'plot', series: [{ name: 's', x: ['0'], y: [1] }] }],
  ])('refuses %s with one truncation note, then stays quiet', (_why, raw) => {
    const b = newOutputBudget();
    const r = admitOutput(raw, b);
    expect(r.item).toBeNull();
    expect(r.note).toMatchObject({ kind: 'log', level: 'warn' });
    expect((r.note as { text: string }).text).toMatch(/^\(output truncated: /);
    expect(admitOutput(raw, b)).toEqual({ item: null, note: null });
    expect(b.items).toBe(0);
  });

  it('cuts long text, thins long plots and keeps each series’ last point', () => {
    const b = newOutputBudget();
    const long = admitOutput({ kind: 'text', text: 'a'.repeat(50_000_000) }, b).item as { text: string };
    expect(long.text.length).toBeLessThan(MAX_TEXT + 100);
    expect(long.text).toContain(`${50_000_000 - MAX_TEXT} more characters`);
    const n = 2_000_000;
    const x = Array.from({ length: n }, (_, i) => i);
    const plot = admitOutput({ kind: 'plot', series: [{ name: 's', x, y: x }] }, b).item as { series: { x: number[]; y: number[] }[] };
    expect(plot.series[0].x.length).toBeLessThanOrEqual(MAX_PLOT_POINTS + 1);
    expect(plot.series[0].x[plot.series[0].x.length - 1]).toBe(n - 1);
    expect(plot.series[0].y).toEqual(plot.series[0].x);
  });

  it('holds a run to its items, characters and pixels', () => {
    const items = newOutputBudget();
    let shown = 0;
    let notes = 0;
    for (let i = 0; i < 3000; i++) {
      const r = admitOutput(log(`line ${i}`), items);
      if (r.item) shown++;
      if (r.note) notes++;
    }
    expect(shown).toBe(MAX_OUTPUT_ITEMS);
    expect(notes).toBe(1);

    const chars = newOutputBudget();
    let characters = 0;
    for (let i = 0; i < 150; i++) {
      const r = admitOutput(log('x'.repeat(MAX_TEXT)), chars);
      if (r.item) characters += (r.item as { text: string }).text.length;
    }
    expect(characters).toBeLessThanOrEqual(MAX_RUN_CHARACTERS);
    expect(characters).toBeGreaterThan(MAX_RUN_CHARACTERS - MAX_TEXT);

    const px = newOutputBudget();
    let pixels = 0;
    for (let i = 0; i < 20; i++) {
      const r = admitOutput(image(64, 64, 64), px);
      if (r.item) pixels += 64 * 64 * 64;
    }
    expect(pixels).toBeLessThanOrEqual(MAX_RUN_PIXELS);
    expect(pixels).toBeGreaterThan(MAX_RUN_PIXELS - 64 * 64 * 64);
  });
});

/** A kernel worker that answers every run with `count` fake output messages, then done. */
class FloodWorker implements WorkerLike {
  onmessage: ((e: MessageEvent<FromKernel>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  constructor(private readonly items: (id: number) => unknown[]) {}
  /** The kernel's end of the private channel (from init); everything after init travels through it. */
  postMessage(msg: ToKernel, transfer: unknown[] = []) {
    if (msg.type !== 'init') return;
    const port = transfer[0] as FakePort;
    port.onmessage = (e: MessageEvent) => {
      const m = e.data as ToKernel;
      if (m.type !== 'run') return;
      queueMicrotask(() => {
        for (const item of this.items(m.id)) port.postMessage({ type: 'output', id: m.id, item });
        port.postMessage({ type: 'done', id: m.id, ms: 1, newTensors: 0, numTensors: 0 });
      });
    };
  }
  terminate() {}
}

describe('the page-side Kernel against a flooding kernel', () => {
  it('shows at most the budget, one truncation line, and resets the budget for the next run', async () => {
    const k = new Kernel(() => new FloodWorker(() => [...Array.from({ length: 8000 }, (_, i) => log(`fake ${i}`)), { kind: 'text', text: 7 }, null]), { type: 'init' }, fakeChannel);
    for (let run = 0; run < 2; run++) {
      const seen: OutputItem[] = [];
      const r = await k.run('x', [], { onOutput: (i) => seen.push(i) });
      expect(r.status).toBe('ok');
      expect(seen).toHaveLength(MAX_OUTPUT_ITEMS + 1);
      expect(seen.filter((i) => i.kind === 'log' && i.level === 'warn' && i.text.startsWith('(output truncated'))).toHaveLength(1);
    }
  });
});
