import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ATTRIBUTES,
  ATTRIBUTE_WORDS,
  CONTEXT_LENGTH,
  DIGIT_WORDS,
  EOS_ID,
  PAD_ID,
  UNK_ID,
  VOCAB,
  VOCAB_SIZE,
  article,
  binOf,
  captionFor,
  detokenize,
  inkMask,
  measureStyle,
  measureStyles,
  normalizeCaption,
  parseCaption,
  randomCaptionSpec,
  renderCaption,
  skeletonLength,
  specMatches,
  strokeWidth,
  styleBinsFromDigits,
  styleBinsOf,
  styleClassOf,
  styleWordsOf,
  tertileEdges,
  thin,
  tokenize,
  tokenizeBatch,
  type Bin,
  type CaptionSpec,
  type StyleClass,
} from '../../src/core/captions';
import { MNIST_PIXELS, decodeMnistFile, type MnistData } from '../../src/core/mnistFormat';
import { makeRng } from '../../src/core/rng';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';

/** A 28×28 digit drawn by 4×4 supersampling of a shape (anti-aliased: pixel = 255 × covered fraction). */
function render(inside: (x: number, y: number) => boolean): Uint8Array {
  const out = new Uint8Array(MNIST_PIXELS);
  const S = 4;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      let c = 0;
      for (let j = 0; j < S; j++) for (let i = 0; i < S; i++) if (inside(x + (i + 0.5) / S, y + (j + 0.5) / S)) c++;
      out[y * 28 + x] = Math.round((255 * c) / (S * S));
    }
  }
  return out;
}

/** A 20-pixel-tall bar, `w` pixels wide horizontally, sheared so its top leans `deg` degrees to the right. */
const bar = (w: number, deg = 0) =>
  render((x, y) => Math.abs(x - 14 - Math.tan((deg * Math.PI) / 180) * (14 - y)) < w / 2 && Math.abs(y - 14) < 10);

/** An elliptical ring with horizontal semi-axis a, vertical semi-axis 10, stroke about 2.5 pixels. */
const ring = (a: number) => render((x, y) => Math.abs(Math.hypot((x - 14) / a, (y - 14) / 10) - 1) * a < 1.25);

/** The words of the vocabulary that take "an" (the rest take "a"). */
const AN_WORDS = new Set(['eight', '8', 'upright']);

const randomClass = (rng: ReturnType<typeof makeRng>): StyleClass => ({
  thickness: rng.uniformInt(3) as Bin,
  slant: rng.uniformInt(3) as Bin,
  width: rng.uniformInt(3) as Bin,
});

describe('style attributes on synthetic strokes', () => {
  it('thresholds at 128 into a 0/1 mask, reading the digit at an offset without copying', () => {
    const big = new Uint8Array(3 * MNIST_PIXELS);
    big[MNIST_PIXELS + 5] = 128;
    big[MNIST_PIXELS + 6] = 127;
    const mask = inkMask(big, MNIST_PIXELS);
    expect(mask.length).toBe(MNIST_PIXELS);
    expect([mask[5], mask[6], mask.reduce((s, v) => s + v, 0)]).toEqual([1, 0, 1]);
  });

  it('thins a thick bar (Zhang–Suen) to a connected line one pixel wide', () => {
    for (const deg of [0, 20, -20]) {
      const skel = thin(inkMask(bar(6, deg)), 28, 28);
      for (let y = 0; y < 28; y++) {
        const row = Array.from(skel.subarray(y * 28, y * 28 + 28));
        expect(row.reduce((s, v) => s + v, 0)).toBeLessThanOrEqual(1);
      }
      const rows = Array.from({ length: 28 }, (_, y) => skel.subarray(y * 28, y * 28 + 28).indexOf(1)).filter((x) => x >= 0);
      expect(rows.length).toBeGreaterThan(12);
      for (let k = 1; k < rows.length; k++) expect(Math.abs(rows[k] - rows[k - 1])).toBeLessThanOrEqual(1);
    }
  });

  it('measures skeleton length with √2 per diagonal step', () => {
    const diag = new Uint8Array(25);
    for (let i = 0; i < 5; i++) diag[i * 5 + i] = 1;
    expect(skeletonLength(diag, 5, 5)).toBeCloseTo(4 * Math.SQRT2, 10);
    const straight = new Uint8Array(25).fill(1, 5, 10);
    expect(skeletonLength(straight, 5, 5)).toBe(4);
  });

  it('gives upright bars of width 2, 4 and 6 a thickness of about 2, 4 and 6', () => {
    for (const w of [2, 4, 6]) expect(Math.abs(measureStyle(bar(w)).thickness - w)).toBeLessThan(0.35);
  });

  it('keeps thickness in order and near the perpendicular width for sheared bars', () => {
    const t = [2, 4, 6].map((w) => measureStyle(bar(w, 20)).thickness);
    expect(t[0]).toBeLessThan(t[1]);
    expect(t[1]).toBeLessThan(t[2]);
    [2, 4, 6].forEach((w, i) => expect(Math.abs(t[i] - w * Math.cos((20 * Math.PI) / 180))).toBeLessThan(0.6));
  });

  it('falls back to √area when the skeleton has no length (a dot)', () => {
    expect(strokeWidth(9, 0)).toBe(3);
    expect(strokeWidth(0, 5)).toBe(0);
    const dot = render((x, y) => Math.abs(x - 14) < 1 && Math.abs(y - 14) < 1);
    expect(measureStyle(dot).thickness).toBeCloseTo(2, 1);
  });

  it('reads a bar whose top leans right as a positive slant, left as negative, upright as zero', () => {
    expect(measureStyle(bar(3, 0)).slant).toBeCloseTo(0, 6);
    for (const deg of [10, 20, 30]) {
      expect(Math.abs(measureStyle(bar(3, deg)).slant - deg)).toBeLessThan(2);
      expect(Math.abs(measureStyle(bar(3, -deg)).slant + deg)).toBeLessThan(2);
    }
  });

  it('measures width after deslanting: a bar measures its own width, sheared or not', () => {
    for (const w of [2, 4, 6]) {
      expect(Math.abs(measureStyle(bar(w)).width - w)).toBeLessThan(0.2);
      expect(Math.abs(measureStyle(bar(w, 25)).width - w)).toBeLessThan(0.5);
    }
  });

  it('orders rings by width, roughly in proportion to their diameter', () => {
    const widths = [3, 5, 7, 9].map((a) => measureStyle(ring(a)).width);
    for (let k = 1; k < widths.length; k++) expect(widths[k]).toBeGreaterThan(widths[k - 1]);
    expect(widths[3] / widths[1]).toBeCloseTo(9 / 5, 0);
    expect(measureStyle(ring(5)).width).toBeGreaterThan(measureStyle(bar(3)).width * 3);
  });

  it('gives an empty image zeros rather than NaN', () => {
    expect(measureStyle(new Uint8Array(MNIST_PIXELS))).toEqual({ thickness: 0, slant: 0, width: 0 });
  });
});

describe('tertile bins', () => {
  /** Type-7 quantile straight from the definition on a sorted copy. */
  function reference(values: number[], p: number): number {
    const s = [...values].sort((a, b) => a - b);
    const h = (s.length - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, s.length - 1);
    return s[lo] + (h - lo) * (s[hi] - s[lo]);
  }

  it('matches a sort-based type-7 quantile reference at 1/3 and 2/3', () => {
    const rng = makeRng(7);
    for (const n of [1, 2, 3, 4, 10, 101, 1000]) {
      const v = Array.from({ length: n }, () => rng.normal() * 5);
      const [lo, hi] = tertileEdges(v);
      expect(lo).toBeCloseTo(reference(v, 1 / 3), 10);
      expect(hi).toBeCloseTo(reference(v, 2 / 3), 10);
    }
    expect(tertileEdges([0, 1, 2, 3])).toEqual([1, 2]);
  });

  it('puts a value on an edge into the upper bin', () => {
    const e = [1, 2] as const;
    expect([0.99, 1, 1.5, 1.99, 2, 3].map((v) => binOf(v, e))).toEqual([0, 1, 1, 1, 2, 2]);
  });

  it('names every bin of every attribute with its own word', () => {
    expect(Object.keys(ATTRIBUTE_WORDS)).toEqual([...ATTRIBUTES]);
    const style = { thickness: 5, slant: -20, width: 12 };
    const bins = { thickness: [2, 3], slant: [0, 14], width: [10, 14] } as const;
    expect(styleWordsOf(style, bins)).toEqual({
      bins: { thickness: 2, slant: 0, width: 1 },
      words: { thickness: 'bold', slant: 'slanted left', width: 'medium' },
    });
  });
});

describe('the tokenizer', () => {
  it('has specials first and at most 64 entries, all distinct', () => {
    expect(VOCAB.slice(0, 3)).toEqual(['<pad>', '<unk>', '<eos>']);
    expect([PAD_ID, UNK_ID, EOS_ID]).toEqual([0, 1, 2]);
    expect(VOCAB_SIZE).toBe(VOCAB.length);
    expect(VOCAB_SIZE).toBeLessThanOrEqual(64);
    expect(new Set(VOCAB).size).toBe(VOCAB_SIZE);
  });

  it('lays out tokens, then <eos>, then <pad>', () => {
    const t = tokenize('a bold seven');
    expect(Array.from(t.ids)).toEqual([VOCAB.indexOf('a'), VOCAB.indexOf('bold'), VOCAB.indexOf('seven'), EOS_ID, ...Array(8).fill(PAD_ID)]);
    expect(t.ids.length).toBe(CONTEXT_LENGTH);
    expect(t).toMatchObject({ tokens: ['a', 'bold', 'seven'], unknown: [], truncated: false, length: 4 });
    expect(Array.from(tokenize('').ids)).toEqual([EOS_ID, ...Array(11).fill(PAD_ID)]);
  });

  it('lower-cases, splits commas off, drops . ! ? ; : and round-trips through detokenize', () => {
    expect(tokenize('  7,Thin AND slanted right!? ').tokens).toEqual(['7', ',', 'thin', 'and', 'slanted', 'right']);
    for (const s of ['7,Thin AND slanted right!', 'The digit 7.', 'an eight ; with bold strokes', 'a wide , upright two']) {
      expect(detokenize(tokenize(s).ids)).toBe(normalizeCaption(s));
    }
    expect(normalizeCaption('7,Thin AND slanted right!')).toBe('7, thin and slanted right');
  });

  it('reports unknown words in order and maps them to <unk>, never dropping them', () => {
    const t = tokenize('a Fancy seven , very bold <eos>');
    expect(t.unknown).toEqual(['fancy', 'very', '<eos>']);
    expect(Array.from(t.ids.subarray(0, 8))).toEqual([VOCAB.indexOf('a'), UNK_ID, VOCAB.indexOf('seven'), VOCAB.indexOf(','), UNK_ID, VOCAB.indexOf('bold'), UNK_ID, EOS_ID]);
    expect(detokenize(t.ids)).toBe('a <unk> seven, <unk> bold <unk>');
  });

  it('truncates to the first 11 tokens and still ends with <eos>', () => {
    const words = 'a b c d e f g h i j k l m'.split(' ').map((_, i) => DIGIT_WORDS[i % 10]);
    const t = tokenize(words.join(' '));
    expect(t.truncated).toBe(true);
    expect(t.length).toBe(CONTEXT_LENGTH);
    expect(t.ids[CONTEXT_LENGTH - 1]).toBe(EOS_ID);
    expect(t.tokens.length).toBe(13);
    expect(tokenize(words.slice(0, 11).join(' ')).truncated).toBe(false);
  });

  it('tokenizes a batch into consecutive rows', () => {
    const texts = ['the digit 3', 'a thin wide zero', 'hello'];
    const batch = tokenizeBatch(texts);
    expect(batch.length).toBe(3 * CONTEXT_LENGTH);
    texts.forEach((s, i) => expect(Array.from(batch.subarray(i * CONTEXT_LENGTH, (i + 1) * CONTEXT_LENGTH))).toEqual(Array.from(tokenize(s).ids)));
  });
});

describe('captions', () => {
  it('chooses a or an by the sound of the next word', () => {
    expect(['eight', '8', 'upright', 'one', '1', 'bold', 'eleven'].map(article)).toEqual(['an', 'an', 'an', 'a', 'a', 'a', 'an']);
  });

  it('are deterministic given the seed', () => {
    const draw = (seed: number) => {
      const rng = makeRng(seed);
      return Array.from({ length: 50 }, (_, i) => captionFor(i % 10, randomClass(rng), rng));
    };
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
  });

  it('tokenize without unknown words or truncation, use every word of the vocabulary and parse back to their spec', () => {
    const rng = makeRng(11);
    const seen = new Set<string>();
    const counts = { none: 0, noDigit: 0, theDigit: 0 };
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      const digit = rng.uniformInt(10);
      const spec = randomCaptionSpec(digit, randomClass(rng), rng);
      const text = renderCaption(spec, rng);
      const t = tokenize(text);
      if (t.unknown.length > 0 || t.truncated) throw new Error(`"${text}" does not fit the tokenizer`);
      t.tokens.forEach((w) => seen.add(w));
      expect(parseCaption(text)).toEqual(spec);
      if (Object.keys(spec.attributes).length === 0) counts.none++;
      if (spec.digit === null) counts.noDigit++;
      if (text === `the digit ${digit}` || text === `the digit ${DIGIT_WORDS[digit]}`) counts.theDigit++;
      t.tokens.forEach((w, k) => {
        if ((w === 'a' || w === 'an') && w !== (AN_WORDS.has(t.tokens[k + 1]) ? 'an' : 'a')) throw new Error(`wrong article in "${text}"`);
      });
    }
    expect(seen).toEqual(new Set(VOCAB.slice(3)));
    expect(counts.none / N).toBeGreaterThan(0.25);
    expect(counts.noDigit / N).toBeGreaterThan(0.1);
    expect(counts.noDigit / N).toBeLessThan(0.15);
    expect(counts.theDigit / N).toBeGreaterThan(0.03);
  });

  it('are always true of the digit they were drawn for', () => {
    const rng = makeRng(5);
    for (let i = 0; i < 2000; i++) {
      const digit = rng.uniformInt(10);
      const cls = randomClass(rng);
      expect(specMatches(randomCaptionSpec(digit, cls, rng), digit, cls)).toBe(true);
    }
  });

  it('match a digit when the digit is unnamed or equal and every named attribute is its bin', () => {
    const cls: StyleClass = { thickness: 2, slant: 0, width: 1 };
    const m = (spec: CaptionSpec, digit = 7) => specMatches(spec, digit, cls);
    expect(m({ digit: 7, attributes: {} })).toBe(true);
    expect(m({ digit: 3, attributes: {} })).toBe(false);
    expect(m({ digit: null, attributes: {} })).toBe(true);
    expect(m({ digit: null, attributes: { thickness: 2 } })).toBe(true);
    expect(m({ digit: null, attributes: { thickness: 1 } })).toBe(false);
    expect(m({ digit: 7, attributes: { slant: 0, width: 1 } })).toBe(true);
    expect(m({ digit: 7, attributes: { slant: 0, width: 2 } })).toBe(false);
  });

  it('render a spec with the words of its bins, and the zero-shot prompt form exists', () => {
    const rng = makeRng(9);
    const texts = new Set(Array.from({ length: 300 }, () => renderCaption({ digit: 7, attributes: {} }, rng)));
    expect(texts).toContain('the digit 7');
    expect(texts).toContain('the digit seven');
    for (let i = 0; i < 50; i++) {
      const text = renderCaption({ digit: 8, attributes: { slant: 0, thickness: 2 } }, rng);
      expect(text).toMatch(/slanted left/);
      expect(text).toMatch(/bold/);
      expect(text).toMatch(/\b(8|eight)\b/);
    }
  });

  it('parse typed prompts word by word, and refuse contradictions', () => {
    expect(parseCaption('A bold digit')).toEqual({ digit: null, attributes: { thickness: 2 } });
    expect(parseCaption('the digit 7')).toEqual({ digit: 7, attributes: {} });
    expect(parseCaption('seven, slanted right and NARROW!')).toEqual({ digit: 7, attributes: { slant: 2, width: 0 } });
    expect(parseCaption('a very fancy upright 0')).toEqual({ digit: 0, attributes: { slant: 1 } });
    expect(parseCaption('a 3 or a 4')).toBeNull();
    expect(parseCaption('thin and bold')).toBeNull();
    expect(parseCaption('a seven 7')).toEqual({ digit: 7, attributes: {} });
  });
});

describe('style bins on the training split', () => {
  let data: MnistData;
  let styles: ReturnType<typeof measureStyles>;

  beforeAll(async () => {
    prepareData();
    data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)), DATA_FILE);
    styles = measureStyles(data.train.images, data.train.count);
  });

  it('hold about a third of the digits in each bin of each attribute', () => {
    const bins = styleBinsOf(styles);
    for (const a of ATTRIBUTES) {
      const counts = [0, 0, 0];
      for (const v of styles[a]) counts[binOf(v, bins[a])]++;
      for (const c of counts) expect(Math.abs(c / data.train.count - 1 / 3)).toBeLessThan(0.02);
    }
  });

  it('agree with styleBinsFromDigits reading at an offset, and styleClassOf agrees with binOf', () => {
    const n = 300;
    const bins = styleBinsFromDigits(data.train.images, n, 100 * MNIST_PIXELS);
    const sub = measureStyles(data.train.images.subarray(100 * MNIST_PIXELS), n);
    expect(bins).toEqual(styleBinsOf(sub));
    const s = measureStyle(data.train.images, 100 * MNIST_PIXELS);
    expect(styleClassOf(s, bins)).toEqual({ thickness: binOf(s.thickness, bins.thickness), slant: binOf(s.slant, bins.slant), width: binOf(s.width, bins.width) });
  });

  it('make "1" narrower on average than "0"', () => {
    const mean = (digit: number) => {
      let s = 0, n = 0;
      for (let i = 0; i < data.train.count; i++) if (data.train.labels[i] === digit) (s += styles.width[i]), n++;
      return s / n;
    };
    expect(mean(1)).toBeLessThan(mean(0) / 2);
  });
});
