import { describe, expect, it } from 'vitest';
import { MAX_IMAGES, MAX_PLOT_POINTS, MAX_RUN_PIXELS, describeLeftovers, formatArgs, formatValue, imageLayout, imagePlan, imagesItem, plotItem, tensorMemoryMessage, thinSeries } from '../../src/workers/kernelProtocol';

describe('formatValue', () => {
  it('renders numbers, strings, arrays, typed arrays, objects and tensors readably', () => {
    expect(formatValue(0.1 + 0.2)).toBe('0.3');
    expect(formatValue(1e-7)).toBe('1.0000e-7');
    expect(formatValue(42)).toBe('42');
    expect(formatValue('hi')).toBe('hi');
    expect(formatValue(['a', 1])).toBe('["a", 1]');
    expect(formatValue(new Float32Array([1, 2.5]))).toBe('Float32Array(2) [1, 2.5]');
    expect(formatValue({ a: 1, 'b c': [true] })).toBe('{ a: 1, "b c": [true] }');
    expect(formatValue(new Map([[1, 'x']]))).toBe('Map(1) {1 => "x"}');
    const fakeTensor = { shape: [2, 3], dtype: 'float32', size: 6, dataSync: () => new Float32Array(6) };
    expect(formatValue(fakeTensor)).toBe('Tensor float32 [2, 3]');
    expect(formatValue(new RangeError('bad'))).toBe('RangeError: bad');
    expect(formatArgs(['t =', 3, { x: 1 }])).toBe('t = 3 { x: 1 }');
  });

  it('stays bounded on deep, long and cyclic values', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(formatValue(cyclic)).toContain('self: { a: 1, self: { a: 1, self: {…} } }');
    expect(formatValue(Array.from({ length: 100 }, (_, i) => i))).toContain('… 80 more');
    expect(formatValue('x'.repeat(10_000)).length).toBeLessThan(4100);
  });
});

describe('show() helpers', () => {
  it('reads image layouts from tensor shapes', () => {
    expect(imageLayout([4, 28, 28, 1])).toEqual({ n: 4, h: 28, w: 28, channels: 1 });
    expect(imageLayout([28, 28, 3])).toEqual({ n: 1, h: 28, w: 28, channels: 3 });
    expect(imageLayout([5, 7, 7])).toEqual({ n: 5, h: 7, w: 7, channels: 1 });
    expect(imageLayout([28, 28])).toEqual({ n: 1, h: 28, w: 28, channels: 1 });
    expect(imageLayout([10])).toBeNull();
    expect(imageLayout([2, 7, 7, 4])).toBeNull();
  });

  it('maps values to 0…255 with the given or inferred range, clamped', () => {
    const v = [-1, 0, 1, 2];
    const item = imagesItem(v, [2, 2], { range: [-1, 1] });
    expect(Array.from(item.pixels)).toEqual([0, 128, 255, 255]); // 127.5 rounds to even
    expect(imagesItem([0, 0.5, 1, 0.25], [2, 2]).range).toEqual([0, 1]);
    expect(imagesItem([-0.5, 0.5, 1, 0], [2, 2]).range).toEqual([-1, 1]);
    expect(imagesItem([0, 10, 20, 5], [2, 2]).range).toEqual([0, 20]);
    const many = imagesItem(new Float32Array(100 * 4), [100, 2, 2, 1], { cols: 50 });
    expect(many.n).toBe(MAX_IMAGES);
    expect(many.pixels.length).toBe(MAX_IMAGES * 4);
    expect(many.cols).toBe(50);
    expect(() => imagesItem([1, 2, 3], [3])).toThrow(/cannot draw/);
  });

  it('builds line plots from one array or named arrays, with optional x', () => {
    expect(plotItem([3, 2, 1])).toEqual({ kind: 'plot', series: [{ name: 'y', x: [0, 1, 2], y: [3, 2, 1] }], xLabel: undefined, yLabel: undefined, logY: undefined, label: undefined });
    const p = plotItem({ linear: new Float64Array([1, 0.5]), cosine: [1, 0.9] }, { x: [1, 2], xLabel: 't' })!;
    expect(p.series.map((s) => s.name)).toEqual(['linear', 'cosine']);
    expect(p.series[1]).toEqual({ name: 'cosine', x: [1, 2], y: [1, 0.9] });
    expect(plotItem({ a: [1], b: 'x' })).toBeNull();
    expect(plotItem(5)).toBeNull();
    expect(plotItem([])).toBeNull();
  });
});

describe('show() on huge values', () => {
  it('refuses an image larger than the page draws from its shape alone, saying the size and what to do', () => {
    const plan = imagePlan([1, 12000, 12000, 1]);
    expect(plan).toHaveProperty('refuse');
    const text = (plan as { refuse: string }).refuse;
    expect(text).toContain('an image of 12,000 × 12,000 (shape [1, 12000, 12000, 1])');
    expect(text).toContain('512 × 512 and 2,000,000 pixels');
    expect(text).toMatch(/Slice it .*tf\.image\.resizeBilinear/);
    expect(imagePlan([513, 20])).toHaveProperty('refuse');
    expect(imagePlan([3, 600, 28])).toHaveProperty('refuse');
  });

  it('draws only as many images as fit (64 at most, 2,000,000 pixels), with a note when that is fewer than there are', () => {
    expect(imagePlan([8, 28, 28, 1])).toEqual({ draw: 8 });
    expect(imagePlan([28, 28])).toEqual({ draw: 1 });
    const many = imagePlan([1000, 28, 28, 1]) as { draw: number; note: string };
    expect(many.draw).toBe(MAX_IMAGES);
    expect(many.note).toContain(`the first ${MAX_IMAGES} of 1,000 images of 28 × 28`);
    const large = imagePlan([10, 512, 512, 3]) as { draw: number; note: string };
    expect(large.draw).toBe(Math.floor(MAX_RUN_PIXELS / (512 * 512)));
    expect(large.draw * 512 * 512).toBeLessThanOrEqual(MAX_RUN_PIXELS);
    expect(imagePlan([10])).toBeNull();
  });

  it('thins a plot of 2,000,000 numbers to at most 5,000 points, keeping the extremes, and says so', () => {
    const ys = Array.from({ length: 2_000_000 }, (_, i) => Math.sin(i / 1000));
    ys[1_234_567] = 9;
    ys[345_678] = -9;
    const notes: string[] = [];
    const item = plotItem(ys, {}, notes)!;
    const [s] = item.series;
    expect(s.y.length).toBeLessThanOrEqual(MAX_PLOT_POINTS);
    expect(s.x.length).toBe(s.y.length);
    expect(s.y).toContain(9);
    expect(s.y).toContain(-9);
    expect(s.x[s.y.indexOf(9)]).toBe(1_234_567);
    expect(s.x[0]).toBe(0);
    expect(s.x.at(-1)).toBe(1_999_999);
    expect(notes).toEqual(['show: 2,000,000 points thinned to at most 5,000 for the plot (the lowest and highest of each stretch are kept).']);
    // Short series are left alone, with no note.
    const few: string[] = [];
    expect(plotItem([1, 2, 3], {}, few)!.series[0].y).toEqual([1, 2, 3]);
    expect(few).toEqual([]);
  });

  it('thins with given x values too', () => {
    const n = 20_000;
    const { x, y } = thinSeries(Array.from({ length: n }, (_, i) => 10 * i), Array.from({ length: n }, (_, i) => (i === 777 ? 5 : 0)));
    expect(y.length).toBeLessThanOrEqual(MAX_PLOT_POINTS);
    expect(x[y.indexOf(5)]).toBe(7770);
  });

  it('formats a huge Map by its first entries, with how many more there are', () => {
    const m = new Map(Array.from({ length: 100_000 }, (_, i) => [i, i] as [number, number]));
    const text = formatValue(m);
    expect(text).toMatch(/^Map\(100000\) \{0 => 0, 1 => 1, .*19 => 19, … 99980 more\}$/);
  });

  it('keeps a long string inside an array short', () => {
    const text = formatValue(['x'.repeat(1_000_000), 1]);
    expect(text.length).toBeLessThan(300);
    expect(text).toMatch(/^\["x{200}…", 1\]$/);
  });
});

describe('leftovers and memory messages', () => {
  it('names what a run left in plain words', () => {
    expect(describeLeftovers({ timeouts: 1, intervals: 1, listeners: 0 })).toBe('2 timers');
    expect(describeLeftovers({ timeouts: 0, intervals: 1, listeners: 1 })).toBe('1 timer and 1 event listener');
    expect(describeLeftovers({ timeouts: 0, intervals: 0, listeners: 2 })).toBe('2 event listeners');
    expect(describeLeftovers({ timeouts: 0, intervals: 0, listeners: 0 })).toBe('');
  });

  it('says how much the tensors take and what to do', () => {
    expect(tensorMemoryMessage(1025 * 1024 ** 2, 257)).toBe(
      "the notebook's tensors take 1025 MB in 257 tensors, more than the 1 GiB the kernel allows: dispose what you no longer need (tf.dispose, or work inside tf.tidy), or press Restart kernel to free them all",
    );
  });
});
