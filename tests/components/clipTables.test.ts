import { describe, expect, it } from 'vitest';
import { ATTRIBUTE_WORDS, CONTEXT_LENGTH, EOS_ID, PAD_ID, UNK_ID, VOCAB, measureStyle, styleClassOf, type StyleBins } from '../../src/core/captions';
import {
  clipTables,
  listOf,
  rate,
  versusClassifierText,
  similarityMatrix,
  styleBinRows,
  styleBinsOf,
  tokenizationOf,
  tokenKind,
  vocabularyGroups,
  vocabularyProblems,
} from '../../src/components/lesson/clipTables';

/** A models/eval.json `clip` section in the shape scripts/eval/clip.ts writes, with made-up numbers. */
function fixture(): Record<string, unknown> {
  const attr = (words: readonly string[], accuracy: number) => ({ prompts: words.map((w) => `a ${w} digit`), accuracy, perBin: [0.5, 0.25, 0.75], share: [0.3, 0.4, 0.3] });
  return {
    clip: {
      count: 1000,
      zeroShot: {
        prompts: Array.from({ length: 10 }, (_, k) => `the digit ${k}`),
        accuracy: 0.6,
        perClass: [0.7, 0.9, 0.7, 0.7, 0.6, 0.2, 0.65, 0.7, 0.2, 0.45],
      },
      attributes: { thickness: attr(ATTRIBUTE_WORDS.thickness, 0.56), slant: attr(ATTRIBUTE_WORDS.slant, 0.7), width: attr(ATTRIBUTE_WORDS.width, 0.3) },
      retrieval: { captions: 1000, recallAt1: 0.47, recallAt5: 0.72, recallAt10: 0.81, exactAt1: 0.012, exactAt5: 0.059, exactAt10: 0.104 },
      matrix: {
        captions: ['a zero', 'the digit one', 'a digit'],
        digits: [0, 1, 2],
        indices: [5, 7, 9],
        values: [
          [0.4, -0.2, 0.1],
          [0.3, 0.2, 0.25],
          [0.0, 0.1, 0.35],
        ],
      },
      logitScale: 14.3,
      styleBins: { thickness: [2.19, 2.8], slant: [0.27, 13.9], width: [10.65, 13.63] },
      classifierAccuracy: 0.99,
      params: { text: 107776, image: 133072, total: 240849 },
      contextLength: 12,
      vocabSize: 44,
    },
  };
}

describe('clipTables', () => {
  it('puts zero-shot digit accuracy beside the supervised classifier’s and chance, as percentages', () => {
    const v = clipTables(fixture())!;
    expect(v.count).toBe(1000);
    expect(v.zeroShot.accuracy).toEqual({ value: 0.6, text: '60.0%' });
    expect(v.classifier?.text).toBe('99.0%');
    expect(v.zeroShot.chance.text).toBe('10%');
    expect(v.zeroShot.perClass.map((r) => r?.value)).toEqual([0.7, 0.9, 0.7, 0.7, 0.6, 0.2, 0.65, 0.7, 0.2, 0.45]);
  });

  it('counts the difference to the classifier in held-out digits, either way', () => {
    expect(clipTables(fixture())!.versusClassifier).toEqual({ digits: -390 });
    expect(versusClassifierText({ digits: -390 }, 1000)).toBe('Of the 1,000 digits, the prompts get 390 fewer right than the supervised classifier.');
    expect(versusClassifierText({ digits: 1 }, 1000)).toBe('Of the 1,000 digits, the prompts get 1 more right than the supervised classifier.');
    expect(versusClassifierText({ digits: 0 }, 1000)).toBe('Of the 1,000 digits, the prompts get exactly as many right as the supervised classifier.');
    const better = fixture();
    (better.clip as any).zeroShot.accuracy = 0.991;
    expect(clipTables(better)!.versusClassifier).toEqual({ digits: 1 });
    const noCount = fixture();
    delete (noCount.clip as any).count;
    expect(clipTables(noCount)!.versusClassifier).toBeNull();
    expect(versusClassifierText(null, 1000)).toBeNull();
  });

  it('lists digits as prose', () => {
    expect(listOf([5])).toBe('5');
    expect(listOf([5, 8])).toBe('5 and 8');
    expect(listOf([0, 1, 4])).toBe('0, 1 and 4');
  });

  it('names the digits the prompts find least and most often, every one of a tie', () => {
    const v = clipTables(fixture())!;
    expect(v.zeroShot.weakest).toEqual([5, 8]);
    expect(v.zeroShot.strongest).toEqual([1]);
  });

  it('gives each style attribute its words, prompts, accuracy per bin and a chance of one in three', () => {
    const v = clipTables(fixture())!;
    expect(v.attributes.map((a) => a.attribute)).toEqual(['thickness', 'slant', 'width']);
    const slant = v.attributes[1];
    expect(slant.words).toEqual(['slanted left', 'upright', 'slanted right']);
    expect(slant.prompts[0]).toBe('a slanted left digit');
    expect(slant.chance.value).toBeCloseTo(1 / 3, 12);
    expect(slant.chance.text).toBe('33.3%');
    expect(slant.perBin.map((r) => r?.text)).toEqual(['50.0%', '25.0%', '75.0%']);
    expect(slant.overChance).toBeCloseTo(0.7 * 3, 12);
    expect(v.attributes[2].overChance).toBeCloseTo(0.9, 12); // below chance is reported as it is
  });

  it('tells retrieval of a fitting digit from retrieval of the caption’s own digit, with that one’s chance k / n', () => {
    const r = clipTables(fixture())!.retrieval!;
    expect(r.ks).toEqual([1, 5, 10]);
    expect(r.recall.map((x) => x?.value)).toEqual([0.47, 0.72, 0.81]);
    expect(r.exact.map((x) => x?.text)).toEqual(['1.2%', '5.9%', '10.4%']);
    expect(r.exactChance.map((x) => x?.value)).toEqual([0.001, 0.005, 0.01]);
    expect(r.exactChance.map((x) => x?.text)).toEqual(['0.10%', '0.50%', '1.00%']);
  });

  it('shows "—" for a field of the wrong type or out of [0, 1], and never guesses', () => {
    const bad = fixture();
    const c = bad.clip as Record<string, any>;
    c.zeroShot.accuracy = 'n/a';
    c.zeroShot.perClass = [0.5];
    c.classifierAccuracy = 1.5;
    c.attributes.width.accuracy = Number.NaN;
    delete c.attributes.thickness;
    c.retrieval.recallAt5 = null;
    delete c.retrieval.captions;
    const v = clipTables(bad)!;
    expect(v.zeroShot.accuracy).toBeNull();
    expect(v.zeroShot.perClass.slice(0, 2).map((r) => r?.value ?? null)).toEqual([0.5, null]);
    expect(v.zeroShot.weakest).toEqual([0]);
    expect(v.classifier).toBeNull();
    expect(v.attributes[2].accuracy).toBeNull();
    expect(v.attributes[2].overChance).toBeNull();
    expect(v.attributes[0].prompts).toEqual(['a thin digit', 'a regular digit', 'a bold digit']);
    expect(v.attributes[0].accuracy).toBeNull();
    expect(v.retrieval!.recall[1]).toBeNull();
    expect(v.retrieval!.exactChance).toEqual([null, null, null]);
  });

  it('returns null when eval.json is missing or has no clip section with a zero-shot part', () => {
    expect(clipTables(undefined)).toBeNull();
    expect(clipTables({ unet: {} })).toBeNull();
    expect(clipTables({ clip: [] })).toBeNull();
    expect(clipTables({ clip: { count: 10 } })).toBeNull();
  });

  it('never rounds a rate onto 0 % or 100 %', () => {
    expect(rate(0.9996)?.text).toBe('99.96%');
    expect(rate(0.0004)?.text).toBe('0.04%');
    expect(rate(1)?.text).toBe('100.0%');
    expect(rate(-0.1)).toBeNull();
  });
});

/** A blank 28×28 digit with a vertical bar of `w` columns of full ink from x0, rows 4…23. */
function bar(x0: number, w: number): Uint8Array {
  const p = new Uint8Array(784);
  for (let y = 4; y < 24; y++) for (let x = x0; x < x0 + w; x++) p[y * 28 + x] = 255;
  return p;
}

describe('similarityMatrix', () => {
  it('lays out digits as rows and captions as columns, shading from the smallest to the largest value', () => {
    const m = similarityMatrix(fixture())!;
    expect(m.captions).toEqual(['a zero', 'the digit one', 'a digit']);
    expect(m.rows.map((r) => [r.digit, r.index])).toEqual([[0, 5], [1, 7], [2, 9]]);
    expect(m.rows[0].cells[1]).toMatchObject({ value: -0.2, text: '−0.20', heat: 0, diagonal: false });
    expect(m.rows[0].cells[0]).toMatchObject({ value: 0.4, text: '0.40', heat: 1, diagonal: true, rowBest: true });
    expect(m.rows[1].cells[1].heat).toBeCloseTo(0.4 / 0.6, 12);
    const tiny = fixture();
    (tiny.clip as any).matrix.values[2][0] = 2.94e-4;
    expect(similarityMatrix(tiny)!.rows[2].cells[0].text).toBe('0.0003'); // never "0.00", never m × 10ⁿ
  });

  it('counts the rows whose own caption is their most similar one', () => {
    const m = similarityMatrix(fixture())!;
    expect(m.rows.map((r) => r.cells.findIndex((c) => c.rowBest))).toEqual([0, 0, 2]);
    expect(m.diagonalBest).toBe(2);
  });

  it('marks the captions that are true of each digit from its measured style bins, when it has the pixels', () => {
    const digits = new Map([[5, bar(12, 3)], [7, bar(13, 2)], [9, bar(10, 6)]]);
    const m = similarityMatrix(fixture(), (i) => digits.get(i) ?? null)!;
    // "a zero" fits only the 0; "the digit one" only the 1; "a digit" names nothing, so it fits all three.
    expect(m.rows.map((r) => r.cells.map((c) => c.fits))).toEqual([
      [true, false, true],
      [false, true, true],
      [false, false, true],
    ]);
    expect(m.offDiagonalFits).toBe(2);
    // A style word is checked against the digit's own bin.
    const bins = styleBinsOf(fixture())!;
    const thick = styleClassOf(measureStyle(bar(10, 6)), bins).thickness;
    const styled = fixture();
    (styled.clip as any).matrix.captions[2] = `a ${ATTRIBUTE_WORDS.thickness[thick]} two`;
    const m2 = similarityMatrix(styled, (i) => digits.get(i) ?? null)!;
    expect(m2.rows[2].cells[2].fits).toBe(true);
    (styled.clip as any).matrix.captions[2] = `a ${ATTRIBUTE_WORDS.thickness[(thick + 1) % 3]} two`;
    expect(similarityMatrix(styled, (i) => digits.get(i) ?? null)!.rows[2].cells[2].fits).toBe(false);
  });

  it('leaves the marks unknown without pixels or bin edges', () => {
    expect(similarityMatrix(fixture())!.rows[0].cells[0].fits).toBeNull();
    expect(similarityMatrix(fixture())!.offDiagonalFits).toBeNull();
    const noBins = fixture();
    delete (noBins.clip as any).styleBins;
    expect(similarityMatrix(noBins, () => bar(12, 3))!.rows[0].cells[0].fits).toBeNull();
  });

  it('returns null for a missing, ragged or non-numeric matrix', () => {
    expect(similarityMatrix({})).toBeNull();
    const ragged = fixture();
    (ragged.clip as any).matrix.values[1] = [0.1, 0.2];
    expect(similarityMatrix(ragged)).toBeNull();
    const short = fixture();
    (short.clip as any).matrix.digits = [0, 1];
    expect(similarityMatrix(short)).toBeNull();
    const nan = fixture();
    (nan.clip as any).matrix.values[0][0] = 'x';
    expect(similarityMatrix(nan)).toBeNull();
    const badDigit = fixture();
    (badDigit.clip as any).matrix.digits = [0, 1, 12];
    expect(similarityMatrix(badDigit)).toBeNull();
  });
});

describe('style bins', () => {
  it('reads the edges from eval.json or from a model.json’s metadata, and rejects malformed ones', () => {
    const edges = (fixture().clip as { styleBins: StyleBins }).styleBins;
    expect(styleBinsOf(fixture())).toEqual(edges);
    expect(styleBinsOf({ userDefinedMetadata: { styleBins: edges } })).toEqual(edges);
    expect(styleBinsOf({ clip: { styleBins: { ...edges, slant: [14, 0.3] } } })).toBeNull();
    expect(styleBinsOf({ clip: { styleBins: { thickness: [1, 2] } } })).toBeNull();
    expect(styleBinsOf({})).toBeNull();
  });

  it('give each attribute its three words and the two edges between them, in its unit', () => {
    const rows = styleBinRows(fixture())!;
    expect(rows.map((r) => r.attribute)).toEqual(['thickness', 'slant', 'width']);
    expect(rows[0].words).toEqual(['thin', 'regular', 'bold']);
    expect(rows[0].edgeTexts).toEqual(['2.2 px', '2.8 px']);
    expect(rows[1].edgeTexts).toEqual(['0.3°', '13.9°']);
    expect(rows[1].edges).toEqual([0.27, 13.9]);
    expect(styleBinRows({})).toBeNull();
  });
});

describe('the vocabulary and a tokenized caption', () => {
  it('groups every id of the tokenizer exactly once, in id order within each group', () => {
    const groups = vocabularyGroups();
    const ids = groups.flatMap((g) => g.entries.map((e) => e.id)).sort((a, b) => a - b);
    expect(ids).toEqual(VOCAB.map((_, i) => i));
    expect(groups.map((g) => g.kind)).toEqual(['special', 'digit word', 'numeral', 'style word', 'template word']);
    expect(groups[0].entries.map((e) => e.word)).toEqual(['<pad>', '<unk>', '<eos>']);
    expect(tokenKind('slanted', VOCAB.indexOf('slanted'))).toBe('style word');
    expect(tokenKind('seven', VOCAB.indexOf('seven'))).toBe('digit word');
    expect(tokenKind('7', VOCAB.indexOf('7'))).toBe('numeral');
    expect(tokenKind('strokes', VOCAB.indexOf('strokes'))).toBe('template word');
  });

  it('shows every position of the context: words, then <eos>, then <pad>', () => {
    const t = tokenizationOf('A bold, slanted right 7.');
    expect(t.cells).toHaveLength(CONTEXT_LENGTH);
    expect(t.cells.slice(0, 7).map((c) => c.word)).toEqual(['a', 'bold', ',', 'slanted', 'right', '7', '<eos>']);
    expect(t.cells.slice(0, 6).map((c) => c.id)).toEqual(['a', 'bold', ',', 'slanted', 'right', '7'].map((w) => VOCAB.indexOf(w)));
    expect(t.cells[6]).toMatchObject({ id: EOS_ID, kind: 'eos' });
    expect(t.cells.slice(7).every((c) => c.id === PAD_ID && c.kind === 'pad' && c.word === '<pad>')).toBe(true);
    expect(t.length).toBe(7);
  });

  it('keeps an unknown word visible but reads it as <unk>, and cuts a long text to the context', () => {
    const t = tokenizationOf('a zebra seven');
    expect(t.cells[1]).toMatchObject({ word: 'zebra', id: UNK_ID, kind: 'unknown' });
    expect(t.unknown).toEqual(['zebra']);
    const long = tokenizationOf(Array.from({ length: 20 }, () => 'seven').join(' '));
    expect(long.truncated).toBe(true);
    expect(long.cells[CONTEXT_LENGTH - 1].kind).toBe('eos');
    expect(long.cells.filter((c) => c.kind === 'word')).toHaveLength(CONTEXT_LENGTH - 1);
  });

  it('finds a model.json whose stored vocabulary differs from the tokenizer’s', () => {
    expect(vocabularyProblems({ userDefinedMetadata: { vocab: [...VOCAB] } })).toEqual([]);
    expect(vocabularyProblems({ userDefinedMetadata: {} })).toEqual([]);
    const swapped = [...VOCAB];
    [swapped[3], swapped[4]] = [swapped[4], swapped[3]];
    expect(vocabularyProblems({ userDefinedMetadata: { vocab: swapped } })).toHaveLength(2);
    expect(vocabularyProblems({ userDefinedMetadata: { vocab: VOCAB.slice(1) } })[0]).toMatch(/stores 43 words/);
    expect(vocabularyProblems({ userDefinedMetadata: { vocab: 'words' } })[0]).toMatch(/not a list/);
  });
});
