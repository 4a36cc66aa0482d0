/**
 * Pure helpers behind the text-conditioning lesson's components (build time only, no DOM, no fs): the `clip`
 * section of models/eval.json (written by scripts/eval/clip.ts through scripts/lib/clipEval.ts) as tables, the
 * similarity matrix of one batch as a heat map, the tokenizer's vocabulary and one tokenized caption
 * (src/core/captions.ts), and the tertile edges of the style words.
 *
 * A missing section gives null (the component shows a note instead, as SolverTable does); a field of the wrong
 * type gives "—", never a guess.
 */
import {
  ATTRIBUTES,
  ATTRIBUTE_WORDS,
  CONTEXT_LENGTH,
  DIGIT_WORDS,
  EOS_ID,
  PAD_ID,
  UNK_ID,
  VOCAB,
  measureStyle,
  parseCaption,
  specMatches,
  styleClassOf,
  tokenize,
  type Attribute,
  type StyleBins,
} from '../../core/captions';
import { formatNumber, getPath } from './values';

/** A measured share (accuracy, recall) with its text as a percentage; null where the value is missing. */
export interface Rate {
  value: number;
  text: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** A share in [0, 1] (anything else is malformed). */
const share = (v: unknown): number | null => {
  const n = num(v);
  return n !== null && n >= 0 && n <= 1 ? n : null;
};
const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : null);

/** Decimals of the percentages in the lesson's tables (a rate of 0.596 reads 59.6%). */
export const RATE_DIGITS = 1;

/** A share as a percentage with RATE_DIGITS decimals (never rounded onto 0 % or 100 %, see formatNumber). */
export function rate(v: unknown, digits = RATE_DIGITS): Rate | null {
  const s = share(v);
  return s === null ? null : { value: s, text: formatNumber(s, { percent: true, digits }) };
}

/** A chance level 1/k (or k/n) as a Rate, with no decimals unless it needs them. */
function chance(value: number): Rate {
  return { value, text: formatNumber(value, { percent: true, digits: Number.isInteger(value * 100) ? 0 : RATE_DIGITS }) };
}

/** Unit and reading of each measured attribute (src/core/captions.ts measureStyle). */
export const ATTRIBUTE_INFO: Readonly<Record<Attribute, { label: string; unit: string; what: string }>> = {
  thickness: { label: 'thickness', unit: 'px', what: 'mean stroke width: ink area over the length of the skeleton' },
  slant: { label: 'slant', unit: '°', what: 'shear angle from second moments; positive when the top leans right' },
  width: { label: 'width', unit: 'px', what: 'horizontal spread after removing the slant' },
};

export interface AttributeRow {
  attribute: Attribute;
  /** The three words, low → high ("thin", "regular", "bold"). */
  words: readonly [string, string, string];
  prompts: string[];
  accuracy: Rate | null;
  /** 1 / number of prompts. */
  chance: Rate;
  /** Accuracy among the digits whose measured bin is each word's. */
  perBin: (Rate | null)[];
  /** The share of held-out digits in each bin (about a third each: the bins are tertiles of the training digits). */
  share: (Rate | null)[];
  /** accuracy / chance, null when the accuracy is missing. */
  overChance: number | null;
}

export interface ClipTablesView {
  /** Held-out digits measured. */
  count: number | null;
  zeroShot: {
    prompts: string[];
    accuracy: Rate | null;
    /** 1 / number of prompts (ten digits: 10 %). */
    chance: Rate;
    /** Accuracy per digit 0…9. */
    perClass: (Rate | null)[];
    /** The digits with the lowest and the highest per-class accuracy (ties: every one of them); empty when missing. */
    weakest: number[];
    strongest: number[];
  };
  /** The supervised classifier's accuracy on the same held-out digits. */
  classifier: Rate | null;
  /**
   * Zero-shot digit accuracy against the classifier's, in digits of the held-out set: `digits` > 0 when the prompts
   * get that many more right, < 0 when fewer; null without both accuracies and the count.
   */
  versusClassifier: { digits: number } | null;
  attributes: AttributeRow[];
  retrieval: {
    captions: number | null;
    ks: readonly number[];
    /** A digit the caption is true of is among the k most similar. */
    recall: (Rate | null)[];
    /** The very digit the caption was written for is among the k most similar. */
    exact: (Rate | null)[];
    /** Chance of the exact hit at k: k / captions ranked over as many digits; null without a count. */
    exactChance: (Rate | null)[];
  } | null;
  /** exp(logit scale), the learned inverse temperature 1/τ. */
  inverseTemperature: number | null;
  contextLength: number | null;
  vocabSize: number | null;
}

/** The k of the retrieval table, as scripts/lib/clipEval.ts measures them. */
export const RETRIEVAL_KS = [1, 5, 10] as const;

/** "0", "0 and 1", "0, 1 and 4". */
export function listOf(items: readonly (string | number)[]): string {
  const t = items.map(String);
  return t.length <= 1 ? t.join('') : `${t.slice(0, -1).join(', ')} and ${t[t.length - 1]}`;
}

/** How the zero-shot prompts compare with the supervised classifier, in held-out digits. */
export function versusClassifierText(v: { digits: number } | null, count: number | null): string | null {
  if (!v || count === null) return null;
  const n = Math.abs(v.digits);
  const of = `Of the ${formatNumber(count)} digits, the prompts get`;
  if (n === 0) return `${of} exactly as many right as the supervised classifier.`;
  return `${of} ${formatNumber(n)} ${v.digits > 0 ? 'more' : 'fewer'} right than the supervised classifier.`;
}

/** Indices of the smallest and largest non-null values (all of them on ties). */
function extremes(values: (number | null)[]): { low: number[]; high: number[] } {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return { low: [], high: [] };
  const lo = Math.min(...present);
  const hi = Math.max(...present);
  const at = (x: number) => values.flatMap((v, i) => (v === x ? [i] : []));
  return { low: at(lo), high: at(hi) };
}

/**
 * The measured tables of a parsed models/eval.json's `clip` section, or null when it has none (or no zero-shot
 * part, the heart of it). Fields of the wrong type render "—".
 */
export function clipTables(evalJson: unknown): ClipTablesView | null {
  const c = getPath(evalJson, 'clip');
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return null;
  const zs = getPath(c, 'zeroShot');
  if (zs === null || typeof zs !== 'object') return null;

  const count = num(getPath(c, 'count'));
  const zsPrompts = strings(getPath(zs, 'prompts')) ?? DIGIT_WORDS.map((_, k) => `the digit ${k}`);
  const rawPerClass = getPath(zs, 'perClass');
  const perClass = Array.from({ length: 10 }, (_, k) => (Array.isArray(rawPerClass) ? rate(rawPerClass[k]) : null));
  const { low, high } = extremes(perClass.map((r) => r?.value ?? null));

  const attributes: AttributeRow[] = ATTRIBUTES.map((a) => {
    const s = getPath(c, `attributes.${a}`);
    const prompts = strings(getPath(s, 'prompts')) ?? ATTRIBUTE_WORDS[a].map((w) => `a ${w} digit`);
    const acc = rate(getPath(s, 'accuracy'));
    const ch = chance(1 / (prompts.length || 3));
    const list = (key: string) => {
      const v = getPath(s, key);
      return [0, 1, 2].map((b) => (Array.isArray(v) ? rate(v[b]) : null));
    };
    return { attribute: a, words: ATTRIBUTE_WORDS[a], prompts, accuracy: acc, chance: ch, perBin: list('perBin'), share: list('share'), overChance: acc === null ? null : acc.value / ch.value };
  });

  const r = getPath(c, 'retrieval');
  const captions = num(getPath(r, 'captions'));
  const retrieval =
    r !== null && typeof r === 'object'
      ? {
          captions,
          ks: RETRIEVAL_KS,
          recall: RETRIEVAL_KS.map((k) => rate(getPath(r, `recallAt${k}`))),
          exact: RETRIEVAL_KS.map((k) => rate(getPath(r, `exactAt${k}`))),
          exactChance: RETRIEVAL_KS.map((k) => (captions !== null && captions >= k ? rate(k / captions, 2) : null)),
        }
      : null;

  const zsAccuracy = rate(getPath(zs, 'accuracy'));
  const classifier = rate(getPath(c, 'classifierAccuracy'));
  const versusClassifier = zsAccuracy && classifier && count !== null ? { digits: Math.round((zsAccuracy.value - classifier.value) * count) } : null;

  return {
    count,
    zeroShot: { prompts: zsPrompts, accuracy: zsAccuracy, chance: chance(1 / (zsPrompts.length || 10)), perClass, weakest: low, strongest: high },
    classifier,
    versusClassifier,
    attributes,
    retrieval,
    inverseTemperature: num(getPath(c, 'logitScale')),
    contextLength: num(getPath(c, 'contextLength')),
    vocabSize: num(getPath(c, 'vocabSize')),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The similarity matrix of one batch
// ---------------------------------------------------------------------------------------------------------------

export interface MatrixCell {
  /** Cosine similarity of digit i's and caption j's embeddings. */
  value: number;
  text: string;
  /** (value − smallest) / (largest − smallest) over the matrix, for the heat map: 0 … 1. */
  heat: number;
  /** i = j: the caption was written for this digit. */
  diagonal: boolean;
  /** The largest value of its row: the caption CLIP would pick for this digit among the batch's. */
  rowBest: boolean;
  /** Whether the caption is true of this digit (its digit and every named style word); null when unknown. */
  fits: boolean | null;
}

export interface MatrixRow {
  digit: number;
  /** Index of the digit in the held-out split. */
  index: number;
  cells: MatrixCell[];
}

export interface SimilarityMatrixView {
  captions: string[];
  rows: MatrixRow[];
  /** Rows whose largest similarity is on the diagonal. */
  diagonalBest: number;
  /** Off-diagonal cells whose caption is also true of the row's digit (extra positives of the soft labels); null when unknown. */
  offDiagonalFits: number | null;
}

/** Decimals of a cosine similarity in the matrix. */
export const SIMILARITY_DIGITS = 2;

/**
 * The `clip.matrix` section as a heat map: rows are digits, columns captions, both in batch order. `pixelsOf`
 * (optional) gives the 784 pixels (0…255) of held-out digit `index`, or null when it cannot (a digits file whose
 * label there is not `digit`); with it and the style bins, each cell says whether its caption is true of that
 * digit. Null when the section is missing, not square, or its lengths disagree.
 */
export function similarityMatrix(evalJson: unknown, pixelsOf?: (index: number, digit: number) => ArrayLike<number> | null): SimilarityMatrixView | null {
  const m = getPath(evalJson, 'clip.matrix');
  const captions = strings(getPath(m, 'captions'));
  const digits = getPath(m, 'digits');
  const indices = getPath(m, 'indices');
  const values = getPath(m, 'values');
  if (!captions || !Array.isArray(digits) || !Array.isArray(values)) return null;
  const n = captions.length;
  if (n === 0 || digits.length !== n || values.length !== n) return null;
  if (!digits.every((d) => Number.isInteger(d) && d >= 0 && d <= 9)) return null;
  if (!values.every((row) => Array.isArray(row) && row.length === n && row.every((v) => num(v) !== null))) return null;
  const v = values as number[][];
  const flat = v.flat();
  const lo = Math.min(...flat);
  const hi = Math.max(...flat);
  const bins = styleBinsOf(evalJson);
  const specs = captions.map((text) => parseCaption(text));
  let offFits: number | null = 0;
  const rows: MatrixRow[] = v.map((row, i) => {
    const digit = digits[i] as number;
    const index = Array.isArray(indices) && Number.isInteger(indices[i]) ? (indices[i] as number) : -1;
    const pixels = pixelsOf && bins && index >= 0 ? pixelsOf(index, digit) : null;
    const cls = pixels && bins ? styleClassOf(measureStyle(pixels), bins) : null;
    const best = Math.max(...row);
    const cells = row.map((value, j) => {
      const spec = specs[j];
      const fits = cls && spec ? specMatches(spec, digit, cls) : null;
      if (i !== j) offFits = fits === null || offFits === null ? null : offFits + (fits ? 1 : 0);
      return {
        value,
        text: formatNumber(value, { digits: SIMILARITY_DIGITS, sciBelow: 0 }),
        heat: hi > lo ? (value - lo) / (hi - lo) : 0.5,
        diagonal: i === j,
        rowBest: value === best,
        fits,
      };
    });
    return { digit, index, cells };
  });
  return { captions, rows, diagonalBest: rows.filter((r, i) => r.cells[i].rowBest).length, offDiagonalFits: offFits };
}

// ---------------------------------------------------------------------------------------------------------------
// Style bins
// ---------------------------------------------------------------------------------------------------------------

/** Tertile edges from eval.json's `clip.styleBins`, or a model.json's `userDefinedMetadata.styleBins`; null if neither is well formed. */
export function styleBinsOf(json: unknown): StyleBins | null {
  for (const path of ['clip.styleBins', 'userDefinedMetadata.styleBins', 'styleBins']) {
    const b = getPath(json, path);
    if (b === undefined) continue;
    const ok = ATTRIBUTES.every((a) => {
      const e = getPath(b, a);
      return Array.isArray(e) && e.length === 2 && num(e[0]) !== null && num(e[1]) !== null && (e[0] as number) <= (e[1] as number);
    });
    return ok ? (b as StyleBins) : null;
  }
  return null;
}

export interface StyleBinRow {
  attribute: Attribute;
  unit: string;
  what: string;
  words: readonly [string, string, string];
  edges: [number, number];
  /** The edges as text, in the attribute's unit. */
  edgeTexts: [string, string];
}

/** Decimals of a bin edge. */
export const EDGE_DIGITS = 1;

/** The style words with the edges between them, one row per attribute; null without well-formed edges. */
export function styleBinRows(json: unknown): StyleBinRow[] | null {
  const bins = styleBinsOf(json);
  if (!bins) return null;
  return ATTRIBUTES.map((a) => {
    const edges: [number, number] = [bins[a][0], bins[a][1]];
    const unit = ATTRIBUTE_INFO[a].unit;
    const t = (x: number) => `${formatNumber(x, { digits: EDGE_DIGITS })}${unit === '°' ? '°' : ` ${unit}`}`;
    return { attribute: a, unit, what: ATTRIBUTE_INFO[a].what, words: ATTRIBUTE_WORDS[a], edges, edgeTexts: [t(edges[0]), t(edges[1])] };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabulary and tokenization
// ---------------------------------------------------------------------------------------------------------------

export type TokenKind = 'special' | 'digit word' | 'numeral' | 'style word' | 'template word';

export interface VocabEntry {
  id: number;
  word: string;
  kind: TokenKind;
}

const STYLE_WORDS = new Set(ATTRIBUTES.flatMap((a) => ATTRIBUTE_WORDS[a].flatMap((w) => w.split(' '))));

/** What a vocabulary word is for. */
export function tokenKind(word: string, id: number): TokenKind {
  if (id <= Math.max(PAD_ID, UNK_ID, EOS_ID)) return 'special';
  if ((DIGIT_WORDS as readonly string[]).includes(word)) return 'digit word';
  if (/^[0-9]$/.test(word)) return 'numeral';
  if (STYLE_WORDS.has(word)) return 'style word';
  return 'template word';
}

/** The tokenizer's vocabulary (src/core/captions.ts VOCAB), in id order, grouped by what each word is for. */
export function vocabularyGroups(): { kind: TokenKind; entries: VocabEntry[] }[] {
  const kinds: TokenKind[] = ['special', 'digit word', 'numeral', 'style word', 'template word'];
  const all = VOCAB.map((word, id) => ({ id, word, kind: tokenKind(word, id) }));
  return kinds.map((kind) => ({ kind, entries: all.filter((e) => e.kind === kind) })).filter((g) => g.entries.length > 0);
}

export interface TokenCell {
  position: number;
  /** The word as split, or "<eos>" / "<pad>". */
  word: string;
  id: number;
  kind: 'word' | 'unknown' | 'eos' | 'pad';
}

/** One caption through tokenize(): every position of the fixed context, words, <unk>, <eos> and <pad>. */
export function tokenizationOf(text: string): { text: string; cells: TokenCell[]; unknown: string[]; truncated: boolean; length: number } {
  const t = tokenize(text);
  const cells: TokenCell[] = Array.from(t.ids, (id, position) => {
    if (position < t.length - 1) return { position, word: t.tokens[position], id, kind: id === UNK_ID ? 'unknown' : 'word' };
    if (position === t.length - 1) return { position, word: VOCAB[EOS_ID], id, kind: 'eos' };
    return { position, word: VOCAB[PAD_ID], id, kind: 'pad' };
  });
  return { text, cells, unknown: t.unknown, truncated: t.truncated, length: t.length };
}

/** Problems with a model.json's stored vocabulary against the tokenizer's (empty when it agrees or stores none). */
export function vocabularyProblems(modelJson: unknown): string[] {
  const stored = getPath(modelJson, 'userDefinedMetadata.vocab');
  if (stored === undefined) return [];
  const words = strings(stored);
  if (!words) return ['its stored vocabulary is not a list of words'];
  if (words.length !== VOCAB.length) return [`it stores ${words.length} words, the tokenizer has ${VOCAB.length}`];
  const differ = words.flatMap((w, i) => (w === VOCAB[i] ? [] : [`id ${i}: "${w}" in the model, "${VOCAB[i]}" in the tokenizer`]));
  return differ;
}

export { CONTEXT_LENGTH };
