import { describe, expect, it } from 'vitest';
import { MAX_IMAGES, formatArgs, formatValue, imageLayout, imagesItem, plotItem } from '../../src/workers/kernelProtocol';

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
