/**
 * Style captions for MNIST digits, without tfjs or the DOM: measure each digit's stroke thickness, slant and
 * width, cut every attribute into three equal-count bins, write varied captions ("a bold seven", "7, thin and
 * slanted right", "the digit 7") and tokenize them for a tiny CLIP text encoder. Used by the Node trainer, the
 * compute worker and widgets on the main thread alike.
 *
 * | quantity    | unit    | how                                                                            |
 * |-------------|---------|--------------------------------------------------------------------------------|
 * | ink mask    | 0/1     | pixel ≥ `INK_THRESHOLD` (128 of 255)                                           |
 * | `thickness` | pixels  | mean stroke width t: total ink A (Σ v/255) = t·(L + t), L the length of the    |
 * |             |         | Zhang–Suen skeleton (Zhang & Suen 1984); the t² term puts back the ends the    |
 * |             |         | thinning erodes, so a solid w-wide bar measures ≈ w                            |
 * | `slant`     | degrees | atan(−μ11/μ02) over intensity moments (Hu 1962); y grows downward, so a stroke |
 * |             |         | whose top leans right ("/") is POSITIVE (slanted right), "\" is negative       |
 * | `width`     | pixels  | √(12·σx² + 1), σx² the variance of x after deslanting x′ = x − (μ11/μ02)(y − ȳ) |
 * |             |         | (the deslanted MNIST of LeCun et al. 1998), + 1 for the spread within a pixel: |
 * |             |         | the width of a uniform band with the same spread, so a solid w-wide bar        |
 * |             |         | measures w and a thin ring of diameter D about 1.2·D                           |
 */
import { MNIST_COLS, MNIST_PIXELS, MNIST_ROWS } from './mnistFormat';

// ---------------------------------------------------------------------------------------------------------------
// Style attributes
// ---------------------------------------------------------------------------------------------------------------

/** Pixels at or above this value (of 0 … 255) are ink in the binary mask. */
export const INK_THRESHOLD = 128;

/** The three measured attributes of a digit (units in the module header). */
export interface DigitStyle {
  /** Mean stroke width in pixels. */
  readonly thickness: number;
  /** Shear angle in degrees; positive = top leans right ("slanted right"). */
  readonly slant: number;
  /** Deslanted horizontal extent in pixels (√(12·σx² + 1)). */
  readonly width: number;
}

/** Binary ink mask (1 where pixel ≥ threshold) of the w·h pixels read from `pixels` at `offset`. */
export function inkMask(pixels: ArrayLike<number>, offset = 0, threshold = INK_THRESHOLD, n = MNIST_PIXELS): Uint8Array {
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = pixels[offset + i] >= threshold ? 1 : 0;
  return mask;
}

/** Zhang–Suen parallel thinning of a 0/1 mask (Zhang & Suen 1984, CACM 27(3)), staircases removed; returns a new 0/1 skeleton. */
export function thin(mask: ArrayLike<number>, w: number, h: number): Uint8Array {
  // Work on a copy padded by one background pixel on every side, so neighbours never leave the buffer.
  const W = w + 2;
  const img = new Uint8Array(W * (h + 2));
  let ink: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x]) {
        const p = (y + 1) * W + x + 1;
        img[p] = 1;
        ink.push(p);
      }
    }
  }
  const remove: number[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    for (let pass = 0; pass < 2; pass++) {
      remove.length = 0;
      for (const p of ink) {
        // Neighbours P2 … P9 clockwise from north.
        const p2 = img[p - W], p3 = img[p - W + 1], p4 = img[p + 1], p5 = img[p + W + 1];
        const p6 = img[p + W], p7 = img[p + W - 1], p8 = img[p - 1], p9 = img[p - W - 1];
        const b = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9;
        if (b < 2 || b > 6) continue;
        const a =
          (p2 < p3 ? 1 : 0) + (p3 < p4 ? 1 : 0) + (p4 < p5 ? 1 : 0) + (p5 < p6 ? 1 : 0) +
          (p6 < p7 ? 1 : 0) + (p7 < p8 ? 1 : 0) + (p8 < p9 ? 1 : 0) + (p9 < p2 ? 1 : 0);
        if (a !== 1) continue;
        if (pass === 0 ? p2 * p4 * p6 === 0 && p4 * p6 * p8 === 0 : p2 * p4 * p8 === 0 && p2 * p6 * p8 === 0) remove.push(p);
      }
      if (remove.length > 0) {
        changed = true;
        for (const p of remove) img[p] = 0;
        ink = ink.filter((p) => img[p] === 1);
      }
    }
  }
  // Zhang–Suen leaves 4-connected staircases ("##" steps); drop each corner pixel whose ink neighbours form one
  // 8-connected group (not an end point, removal keeps the curve connected), so the skeleton is 8-connected, one
  // pixel wide, and its length is not inflated by 1 + 1 steps where √2 is meant.
  for (const p of ink) {
    const ring = [p - W, p - W + 1, p + 1, p + W + 1, p + W, p + W - 1, p - 1, p - W - 1].map((q) => img[q]);
    const count = ring.reduce((s, v) => s + v, 0);
    if (count >= 2 && inkGroups(ring) === 1) img[p] = 0;
  }
  const out = new Uint8Array(w * h);
  for (const p of ink) if (img[p]) out[(Math.floor(p / W) - 1) * w + (p % W) - 1] = 1;
  return out;
}

/**
 * Number of 8-connected groups among the ink pixels of a 3×3 ring given clockwise from north (N, NE, E, …, NW):
 * neighbours around the ring touch, and so do two orthogonal neighbours with a corner between them (N and E).
 */
function inkGroups(ring: readonly number[]): number {
  const parent = [0, 1, 2, 3, 4, 5, 6, 7];
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const join = (i: number, j: number) => {
    if (ring[i] && ring[j]) parent[find(i)] = find(j);
  };
  for (let i = 0; i < 8; i++) join(i, (i + 1) % 8);
  for (let i = 0; i < 8; i += 2) join(i, (i + 2) % 8);
  let groups = 0;
  for (let i = 0; i < 8; i++) if (ring[i] && find(i) === i) groups++;
  return groups;
}

/**
 * Euclidean length in pixels of a thin curve: 1 per horizontal/vertical pair of neighbouring pixels, √2 per
 * diagonal pair whose two shared orthogonal neighbours are both off (a staircase corner is counted once).
 */
export function skeletonLength(skel: ArrayLike<number>, w: number, h: number): number {
  const on = (x: number, y: number) => x >= 0 && x < w && y >= 0 && y < h && skel[y * w + x] !== 0;
  let len = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!on(x, y)) continue;
      if (on(x + 1, y)) len += 1;
      if (on(x, y + 1)) len += 1;
      if (on(x + 1, y + 1) && !on(x + 1, y) && !on(x, y + 1)) len += Math.SQRT2;
      if (on(x - 1, y + 1) && !on(x - 1, y) && !on(x, y + 1)) len += Math.SQRT2;
    }
  }
  return len;
}

/** Mean stroke width t solving A = t·(L + t) for ink area A and skeleton length L (0 when there is no ink). */
export function strokeWidth(area: number, length: number): number {
  if (!(area > 0)) return 0;
  const l = Math.max(0, length);
  return (Math.sqrt(l * l + 4 * area) - l) / 2;
}

/** Intensity moments of a w×h image: total mass m00 (Σ v/255), centroid and central moments μ20, μ11, μ02. */
export function imageMoments(pixels: ArrayLike<number>, offset = 0, w = MNIST_COLS, h = MNIST_ROWS) {
  let m00 = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = pixels[offset + y * w + x] / 255;
      m00 += v;
      mx += v * x;
      my += v * y;
    }
  }
  if (m00 === 0) return { m00: 0, cx: 0, cy: 0, mu20: 0, mu11: 0, mu02: 0 };
  const cx = mx / m00, cy = my / m00;
  let mu20 = 0, mu11 = 0, mu02 = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = pixels[offset + y * w + x] / 255;
      const dx = x - cx, dy = y - cy;
      mu20 += v * dx * dx;
      mu11 += v * dx * dy;
      mu02 += v * dy * dy;
    }
  }
  return { m00, cx, cy, mu20, mu11, mu02 };
}

/** Thickness, slant and width of the 28×28 digit at `offset` in `pixels` (definitions in the module header). */
export function measureStyle(pixels: ArrayLike<number>, offset = 0): DigitStyle {
  const w = MNIST_COLS, h = MNIST_ROWS;
  const { m00, mu20, mu11, mu02 } = imageMoments(pixels, offset, w, h);
  if (m00 === 0) return { thickness: 0, slant: 0, width: 0 };
  // x as a function of y: dx/dy = μ11/μ02; y grows downward, so "/" has dx/dy < 0 and a positive slant.
  const shear = mu02 > 0 ? mu11 / mu02 : 0;
  const slant = (Math.atan(-shear) * 180) / Math.PI;
  // Variance of x′ = x − shear·(y − ȳ): μ20 − 2·shear·μ11 + shear²·μ02 = μ20 − shear·μ11.
  const varX = Math.max(0, (mu20 - shear * mu11) / m00);
  // Sheppard's correction: ink spread evenly over each unit pixel adds 1/12 to the variance of x.
  const width = Math.sqrt(12 * varX + 1);
  const skel = thin(inkMask(pixels, offset, INK_THRESHOLD, w * h), w, h);
  const thickness = strokeWidth(m00, skeletonLength(skel, w, h));
  return { thickness, slant, width };
}

/** measureStyle of `count` digits stored one after another from `offsetStart`, as three float arrays. */
export function measureStyles(images: ArrayLike<number>, count: number, offsetStart = 0) {
  const thickness = new Float32Array(count), slant = new Float32Array(count), width = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const s = measureStyle(images, offsetStart + i * MNIST_PIXELS);
    thickness[i] = s.thickness;
    slant[i] = s.slant;
    width[i] = s.width;
  }
  return { thickness, slant, width };
}

// ---------------------------------------------------------------------------------------------------------------
// Bins and words
// ---------------------------------------------------------------------------------------------------------------

export const ATTRIBUTES = ['thickness', 'slant', 'width'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];
/** A tertile bin: 0 = low, 1 = middle, 2 = high. */
export type Bin = 0 | 1 | 2;
/** Tertile edges [lo, hi] of each attribute (from the training split). */
export type StyleBins = Record<Attribute, readonly [number, number]>;
/** The bin of each attribute for one digit. */
export type StyleClass = Record<Attribute, Bin>;

/** The word (or two-word phrase) for each bin of each attribute, low → high. */
export const ATTRIBUTE_WORDS: Readonly<Record<Attribute, readonly [string, string, string]>> = {
  thickness: ['thin', 'regular', 'bold'],
  slant: ['slanted left', 'upright', 'slanted right'],
  width: ['narrow', 'medium', 'wide'],
};

/** Quantile p of sorted values, linear between order statistics at h = (n − 1)·p (Hyndman & Fan type 7, NumPy's default). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const i = Math.floor(h);
  return i + 1 < n ? sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]) : sorted[n - 1];
}

/** The 1/3 and 2/3 quantiles [lo, hi] of the values (type 7 interpolation, see quantileSorted). */
export function tertileEdges(values: ArrayLike<number>): [number, number] {
  const sorted = Float64Array.from(values).sort();
  return [quantileSorted(sorted, 1 / 3), quantileSorted(sorted, 2 / 3)];
}

/** Bin of a value: 0 when v < lo, 1 when lo ≤ v < hi, 2 when v ≥ hi (NaN falls in the middle bin). */
export function binOf(value: number, edges: readonly [number, number]): Bin {
  if (value < edges[0]) return 0;
  if (value >= edges[1]) return 2;
  return 1;
}

/** Tertile edges of every attribute over `count` digits stored from `offsetStart` (e.g. the training split). */
export function styleBinsFromDigits(images: ArrayLike<number>, count: number, offsetStart = 0): StyleBins {
  return styleBinsOf(measureStyles(images, count, offsetStart));
}

/** Tertile edges of every attribute from already measured values. */
export function styleBinsOf(styles: Record<Attribute, ArrayLike<number>>): StyleBins {
  return { thickness: tertileEdges(styles.thickness), slant: tertileEdges(styles.slant), width: tertileEdges(styles.width) };
}

/** The bin of each attribute of a measured style. */
export function styleClassOf(style: DigitStyle, bins: StyleBins): StyleClass {
  return {
    thickness: binOf(style.thickness, bins.thickness),
    slant: binOf(style.slant, bins.slant),
    width: binOf(style.width, bins.width),
  };
}

/** The bins and the words ("bold", "slanted left", "narrow") of a measured style. */
export function styleWordsOf(style: DigitStyle, bins: StyleBins): { bins: StyleClass; words: Record<Attribute, string> } {
  const c = styleClassOf(style, bins);
  const words = {
    thickness: ATTRIBUTE_WORDS.thickness[c.thickness],
    slant: ATTRIBUTE_WORDS.slant[c.slant],
    width: ATTRIBUTE_WORDS.width[c.width],
  };
  return { bins: c, words };
}

// ---------------------------------------------------------------------------------------------------------------
// Captions
// ---------------------------------------------------------------------------------------------------------------

/** The digits as words, index = digit. */
export const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] as const;

/** What a caption says: the digit (null = "digit"/"number", any digit matches) and the attributes it names. */
export interface CaptionSpec {
  readonly digit: number | null;
  readonly attributes: Partial<Record<Attribute, Bin>>;
}

/** The part of a random stream captions need. */
export interface UniformSource {
  uniform(): number;
}

/** P(a caption names 0, 1, 2, 3 attributes); the attribute-free ones include the zero-shot prompt "the digit k". */
export const ATTRIBUTE_COUNT_PROBS = [0.3, 0.3, 0.25, 0.15] as const;
/** P(the digit is replaced by "digit"/"number") among captions naming at least one attribute (≈ 12.6 % overall). */
export const NO_DIGIT_PROB = 0.18;

/** A uniform integer in 0 … n − 1 from `rng.uniform()`. */
function pick(rng: UniformSource, n: number): number {
  return Math.min(n - 1, Math.floor(rng.uniform() * n));
}

/** A random permutation of `items` (Fisher–Yates, driven by rng). */
function shuffled<T>(items: readonly T[], rng: UniformSource): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = pick(rng, i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** A random caption spec that is true of a digit with these bins: a random subset of its attributes, sometimes no digit. */
export function randomCaptionSpec(digit: number, cls: StyleClass, rng: UniformSource): CaptionSpec {
  const u = rng.uniform();
  let k = 0;
  for (let acc = ATTRIBUTE_COUNT_PROBS[0]; k < 3 && u >= acc; ) acc += ATTRIBUTE_COUNT_PROBS[++k];
  const named = shuffled(ATTRIBUTES, rng).slice(0, k);
  const attributes: Partial<Record<Attribute, Bin>> = {};
  for (const a of ATTRIBUTES) if (named.includes(a)) attributes[a] = cls[a];
  const noDigit = k > 0 && rng.uniform() < NO_DIGIT_PROB;
  return { digit: noDigit ? null : digit, attributes };
}

/** "an" before a vowel sound ("an eight", "an 8", "an upright"), "a" otherwise ("a one"). */
export function article(nextWord: string): 'a' | 'an' {
  const w = nextWord.toLowerCase();
  if (w === '8' || w.startsWith('eight') || w === '11' || w === '18') return 'an';
  if (w.startsWith('one') || w.startsWith('uni') || w.startsWith('use')) return 'a';
  return /^[aeiou]/.test(w) ? 'an' : 'a';
}

/** "p", "p and q", "p, q and r". */
function list(phrases: readonly string[]): string {
  if (phrases.length <= 1) return phrases.join('');
  return `${phrases.slice(0, -1).join(', ')} and ${phrases[phrases.length - 1]}`;
}

/** Prefix a phrase with its article. */
function withArticle(phrase: string): string {
  return `${article(phrase.split(' ')[0])} ${phrase}`;
}

/** Text for a spec: random template, digit as word or numeral, attributes in random order (deterministic given rng). */
export function renderCaption(spec: CaptionSpec, rng: UniformSource): string {
  const named = shuffled(
    ATTRIBUTES.filter((a) => spec.attributes[a] !== undefined),
    rng,
  );
  const phrase = (a: Attribute) => ATTRIBUTE_WORDS[a][spec.attributes[a] as Bin];
  const hasDigit = spec.digit !== null;
  const heads = hasDigit ? [DIGIT_WORDS[spec.digit as number], String(spec.digit)] : ['digit', 'number'];
  const noun = heads[pick(rng, 2)];
  if (named.length === 0) {
    if (!hasDigit) return withArticle(noun);
    const forms = [`the digit ${noun}`, `the number ${noun}`, withArticle(noun), noun, `a handwritten ${noun}`];
    return forms[pick(rng, forms.length)];
  }
  const phrases = named.map(phrase);
  const forms: (() => string)[] = [
    () => withArticle(`${phrases.join(' ')} ${noun}`),
    () => withArticle(`${phrases.join(' ')} handwritten ${noun}`),
    () => `${withArticle(noun)}, ${list(phrases)}`,
    () => `${withArticle(noun)} written ${list(phrases)}`,
  ];
  if (hasDigit) forms.push(() => `${noun}, ${list(phrases)}`, () => `the ${rng.uniform() < 0.5 ? 'digit' : 'number'} ${noun}, ${list(phrases)}`);
  if (spec.attributes.thickness !== undefined) {
    const rest = named.filter((a) => a !== 'thickness').map(phrase);
    forms.push(() => `${withArticle([...rest, noun].join(' '))} with ${phrase('thickness')} strokes`);
  }
  return forms[pick(rng, forms.length)]();
}

/** A random caption true of this digit: renderCaption(randomCaptionSpec(digit, cls, rng), rng). */
export function captionFor(digit: number, cls: StyleClass, rng: UniformSource): string {
  return renderCaption(randomCaptionSpec(digit, cls, rng), rng);
}

/** Whether a caption spec is true of a digit: same digit (or none named) and every named attribute in the digit's bin. */
export function specMatches(spec: CaptionSpec, digit: number, cls: StyleClass): boolean {
  if (spec.digit !== null && spec.digit !== digit) return false;
  for (const a of ATTRIBUTES) {
    const b = spec.attributes[a];
    if (b !== undefined && b !== cls[a]) return false;
  }
  return true;
}

/** Word → (attribute, bin) for the one-word attribute phrases; "slanted left/right" are read as pairs. */
const ATTRIBUTE_OF_WORD = new Map<string, [Attribute, Bin]>();
for (const a of ATTRIBUTES) ATTRIBUTE_WORDS[a].forEach((w, b) => ATTRIBUTE_OF_WORD.set(w, [a, b as Bin]));

/**
 * What a typed prompt asks for, read word by word (same normalisation as tokenize): digit words and numerals name
 * the digit, attribute words their bin, "slanted" + "left"/"right" the slant; other words are ignored. Null when the
 * prompt contradicts itself (two digits, or two bins of one attribute).
 */
export function parseCaption(text: string): CaptionSpec | null {
  const words = splitWords(text);
  let digit: number | null = null;
  const attributes: Partial<Record<Attribute, Bin>> = {};
  const set = (a: Attribute, b: Bin) => {
    if (attributes[a] !== undefined && attributes[a] !== b) return false;
    attributes[a] = b;
    return true;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    let d = (DIGIT_WORDS as readonly string[]).indexOf(w);
    if (d < 0 && /^[0-9]$/.test(w)) d = Number(w);
    if (d >= 0) {
      if (digit !== null && digit !== d) return null;
      digit = d;
    } else if (w === 'slanted' && (words[i + 1] === 'left' || words[i + 1] === 'right')) {
      if (!set('slant', words[++i] === 'left' ? 0 : 2)) return null;
    } else {
      const hit = ATTRIBUTE_OF_WORD.get(w);
      if (hit && !set(hit[0], hit[1])) return null;
    }
  }
  return { digit, attributes };
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabulary and tokenizer
// ---------------------------------------------------------------------------------------------------------------

export const PAD_ID = 0;
export const UNK_ID = 1;
export const EOS_ID = 2;
/** Tokens per caption including the closing <eos>; shorter captions are padded with <pad>. */
export const CONTEXT_LENGTH = 12;

/** The fixed vocabulary: specials, then every word the caption templates can produce (and nothing else). */
export const VOCAB: readonly string[] = [
  '<pad>', '<unk>', '<eos>',
  ...DIGIT_WORDS,
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
  'thin', 'regular', 'bold', 'slanted', 'left', 'right', 'upright', 'narrow', 'medium', 'wide',
  'a', 'an', 'the', 'digit', 'number', 'handwritten', 'written', 'with', 'strokes', 'and', ',',
];
export const VOCAB_SIZE = VOCAB.length;

/** Word → id for the ordinary words (the specials cannot be typed: "<pad>" in text is an unknown word). */
const ID_OF = new Map<string, number>(VOCAB.map((w, i) => [w, i] as [string, number]).filter(([, i]) => i > EOS_ID));

/**
 * Split text into words: lower-case; "." "!" "?" ";" ":" are dropped (read as spaces); each comma becomes its own
 * token; then split on whitespace. Every other character stays part of its word.
 */
export function splitWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[.!?;:]/g, ' ')
    .replace(/,/g, ' , ')
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

/** Join words back into text: single spaces, none before a comma ("7, thin and wide"). */
export function joinWords(words: readonly string[]): string {
  return words.reduce((s, w, i) => (i === 0 ? w : w === ',' ? `${s},` : `${s} ${w}`), '');
}

/** The canonical form of a caption: joinWords(splitWords(text)). */
export function normalizeCaption(text: string): string {
  return joinWords(splitWords(text));
}

/** A tokenized caption. */
export interface Tokenized {
  /** CONTEXT_LENGTH ids: the first min(tokens, CONTEXT_LENGTH − 1) tokens, <eos>, then <pad>. */
  readonly ids: Int32Array;
  /** Every word as split, before mapping to ids (including any cut off by truncation). */
  readonly tokens: string[];
  /** The words mapped to <unk>, in order (all of them, including any past the truncation). */
  readonly unknown: string[];
  /** Whether the text had more than CONTEXT_LENGTH − 1 tokens (only the first ones are kept). */
  readonly truncated: boolean;
  /** Ids used: kept tokens + 1 for <eos> (the <eos> sits at length − 1). */
  readonly length: number;
}

/** Tokenize one caption (splitWords, then ids; unknown words are reported and become <unk>, never dropped). */
export function tokenize(text: string, out = new Int32Array(CONTEXT_LENGTH)): Tokenized {
  const tokens = splitWords(text);
  const unknown: string[] = [];
  const keep = Math.min(tokens.length, CONTEXT_LENGTH - 1);
  out.fill(PAD_ID);
  tokens.forEach((t, i) => {
    const id = ID_OF.get(t);
    if (id === undefined) unknown.push(t);
    if (i < keep) out[i] = id ?? UNK_ID;
  });
  out[keep] = EOS_ID;
  return { ids: out, tokens, unknown, truncated: tokens.length > keep, length: keep + 1 };
}

/** Tokenize many captions into one row-major [n × CONTEXT_LENGTH] id array. */
export function tokenizeBatch(texts: readonly string[]): Int32Array {
  const out = new Int32Array(texts.length * CONTEXT_LENGTH);
  texts.forEach((t, i) => tokenize(t, out.subarray(i * CONTEXT_LENGTH, (i + 1) * CONTEXT_LENGTH)));
  return out;
}

/** Text of an id row up to its <eos> (or first <pad>); unknown ids read as "<unk>". */
export function detokenize(ids: ArrayLike<number>): string {
  const words: string[] = [];
  for (let i = 0; i < ids.length && ids[i] !== EOS_ID && ids[i] !== PAD_ID; i++) words.push(VOCAB[ids[i]] ?? '<unk>');
  return joinWords(words);
}
