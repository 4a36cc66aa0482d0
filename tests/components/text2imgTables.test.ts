import { describe, expect, it } from 'vitest';
import { ATTRIBUTE_WORDS } from '../../src/core/captions';
import { guidanceSummary, negativeSummary, pointsText, settingText, text2imgTables, trendText, versusChance, wordsSummary } from '../../src/components/lesson/text2imgTables';

type Json = Record<string, any>;

/** One set of prompts as scripts/eval/text2img.ts measures it. */
const set = (digitShare: number, extra: Json = {}) => ({ samples: 50, digitShare, meanConfidence: 0.9, clipScore: 0.2, diversity: 20, ...extra });

/** The nine words at one w: thickness words at `t`, slant at `s`, width at `w` (each a triple of bin shares). */
function words(t: number[], s: number[], w: number[]): Json {
  const out: Json = {};
  const put = (list: readonly string[], shares: number[]) => list.forEach((word, i) => (out[word] = set(0.5, { binShare: shares[i], diversity: null, samples: 10 })));
  put(ATTRIBUTE_WORDS.thickness, t);
  put(ATTRIBUTE_WORDS.slant, s);
  put(ATTRIBUTE_WORDS.width, w);
  return out;
}

/** A models/eval.json with a `text2img` section in the shape scripts/eval/text2img.ts writes, with made-up numbers. */
function fixture(): Json {
  const neg = (attribute: string, prompt: number, promptWithNegative: number, plain: number, plainWithNegative: number) => ({ attribute, prompt, promptWithNegative, plain, plainWithNegative, digitShareWithNegative: 0.8 });
  return {
    latent: { realDiversity: 24.5 },
    text2img: {
      ws: [0, 3, 7.5],
      samplesPerDigitPrompt: 10,
      samplesPerWordPrompt: 5,
      steps: 25,
      negW: 3,
      // Keys in the order JSON may hold them; the view sorts by w.
      byW: {
        '7.5': { w: 7.5, digits: set(0.96, { clipScore: 0.31, diversity: 14.25 }), words: words([0.9, 0.5, 0.9], [0.8, 0.4, 0.9], [0.3, 0.3, 0.3]) },
        '0': { w: 0, digits: set(0.62, { clipScore: 0.22, diversity: 22.5 }), words: words([0.5, 0.4, 0.6], [0.3, 0.3, 0.3], [0.2, 0.3, 0.3]) },
        '3': { w: 3, digits: set(0.9, { clipScore: 0.29, diversity: 17 }), words: words([0.8, 0.5, 0.8], [0.6, 0.3, 0.7], [0.4, 0.3, 0.3]) },
      },
      negative: {
        thin: neg('thickness', 0.6, 0.4, 0.3, 0.2),
        regular: neg('thickness', 0.4, 0.4, 0.3, 0.3),
        bold: neg('thickness', 0.7, 0.5, 0.4, 0.5),
        'slanted left': neg('slant', 0.5, 0.3, 0.3, 0.1),
        upright: neg('slant', 0.4, 0.3, 0.3, 0.3),
        'slanted right': neg('slant', 0.6, 0.4, 0.4, 0.2),
        narrow: neg('width', 0.5, 0.5, 0.3, 0.3),
        medium: neg('width', 0.3, 0.4, 0.3, 0.3),
        wide: neg('width', 0.6, 0.4, 0.3, 0.2),
      },
      params: { denoiser: 281988, clipText: 108000 },
      latentShape: [7, 7, 4],
      contextLength: 12,
    },
  };
}

describe('text2imgTables', () => {
  it('gives one row per guidance strength, sorted by w, with s = 1 + w written as the settings are', () => {
    const v = text2imgTables(fixture())!;
    expect(v.rows.map((r) => [r.wText, r.sText])).toEqual([['0', '1'], ['3', '4'], ['7.5', '8.5']]);
    expect(v.steps).toBe(25);
    expect(v.samplesPerDigitPrompt).toBe(10);
    expect(v.negW).toBe(3);
    expect(v.latentShape).toEqual([7, 7, 4]);
  });

  it('reads the digit prompts’ share, CLIP score and diversity, and the chance lines of a digit and a bin', () => {
    const r = text2imgTables(fixture())!.rows[2];
    expect(r.digitShare).toEqual({ value: 0.96, text: '96.0%' });
    expect(r.clipScore?.text).toBe('0.310');
    expect(r.diversity?.text).toBe('14.25');
    const v = text2imgTables(fixture())!;
    expect(v.chance.digit.text).toBe('10%');
    expect(v.chance.bin.text).toBe('33.3%');
    expect(v.realDiversity?.text).toBe('24.50');
  });

  it('averages each attribute’s three words into one share in the prompted bin, and keeps every word', () => {
    const r = text2imgTables(fixture())!.rows[1];
    const thickness = r.attributes.find((a) => a.attribute === 'thickness')!;
    expect(thickness.mean?.value).toBeCloseTo(0.7, 12);
    expect(thickness.words.map((w) => [w.word, w.binShare?.text])).toEqual([['thin', '80.0%'], ['regular', '50.0%'], ['bold', '80.0%']]);
    expect(r.attributes.map((a) => a.attribute)).toEqual(['thickness', 'slant', 'width']);
  });

  it('shows "—" (null) for a missing or malformed number and gives no mean over an incomplete attribute', () => {
    const bad = fixture();
    bad.text2img.byW['3'].digits.digitShare = 'n/a';
    bad.text2img.byW['3'].digits.diversity = null;
    bad.text2img.byW['3'].words.bold.binShare = 1.5;
    const r = text2imgTables(bad)!.rows[1];
    expect(r.digitShare).toBeNull();
    expect(r.diversity).toBeNull();
    expect(r.attributes[0].mean).toBeNull();
    expect(r.attributes[0].words[2].binShare).toBeNull();
    expect(r.attributes[1].mean).not.toBeNull();
  });

  it('is null without a text2img section or a usable byW', () => {
    expect(text2imgTables({})).toBeNull();
    expect(text2imgTables(undefined)).toBeNull();
    expect(text2imgTables({ text2img: { byW: [] } })).toBeNull();
    expect(text2imgTables({ text2img: { byW: { x: {} } } })).toBeNull();
  });

  it('puts each word’s bin share without and with itself as the negative prompt, the same for “the digit k”, and the change in points', () => {
    const v = text2imgTables(fixture())!;
    expect(v.negative.map((r) => r.word)).toEqual([...ATTRIBUTE_WORDS.thickness, ...ATTRIBUTE_WORDS.slant, ...ATTRIBUTE_WORDS.width]);
    const thin = v.negative[0];
    expect([thin.prompt?.text, thin.promptWithNegative?.text, thin.promptChange?.text]).toEqual(['60.0%', '40.0%', '−20.0']);
    expect([thin.plain?.text, thin.plainWithNegative?.text, thin.plainChange?.text]).toEqual(['30.0%', '20.0%', '−10.0']);
    expect(v.negative[2].plainChange?.text).toBe('+10.0');
    expect(v.negative[1].promptChange?.text).toBe('0.0');
  });

  it('has an empty negative table when the section has none', () => {
    const f = fixture();
    delete f.text2img.negative;
    expect(text2imgTables(f)!.negative).toEqual([]);
    expect(negativeSummary(text2imgTables(f)!)).toEqual([]);
  });
});

describe('the captions computed from the numbers', () => {
  const pts = (values: (string | null)[]) => values.map((t, i) => ({ wText: String(i), value: t === null ? null : { value: Number.parseFloat(t), text: t } }));

  it('say a quantity rises, falls or stays only when every shown value agrees, and otherwise where it is highest and lowest', () => {
    expect(trendText(pts(['62.0%', '90.0%', '96.0%']))).toBe('rises from 62.0% at w = 0 to 96.0% at w = 2');
    expect(trendText(pts(['22.50', '17.00', '17.00']))).toBe('falls from 22.50 at w = 0 to 17.00 at w = 2');
    expect(trendText(pts(['40.0%', '40.0%']))).toBe('stays at 40.0% from w = 0 to w = 1');
    expect(trendText(pts(['40.0%', '60.0%', '50.0%', '60.0%']))).toBe('is highest at w = 1 and 3 (60.0%) and lowest at w = 0 (40.0%)');
    expect(trendText(pts(['40.0%', null]))).toBeNull();
  });

  it('describe the fixture: the digit share rises, diversity falls, the style words against their chance line', () => {
    const v = text2imgTables(fixture())!;
    expect(guidanceSummary(v)).toEqual([
      'The share of “the digit k” samples read as k rises from 62.0% at w = 0 to 96.0% at w = 7.5.',
      'Their within-prompt diversity falls from 22.50 at w = 0 to 14.25 at w = 7.5; real held-out digits of one class measure 24.50.',
      'Averaged over an attribute’s three words, the share in the prompted bin is above the chance line of 33.3% at every w for thickness, only at w = 3 and 7.5 for slant and at no w for width.',
    ]);
  });

  it('compare a share with chance as the table prints both (33.3% is not above 33.3%)', () => {
    const f = fixture();
    f.text2img.byW['0'].words = words([1 / 3, 1 / 3, 1 / 3], [0.3, 0.3, 0.3], [0.2, 0.3, 0.3]);
    const v = text2imgTables(f)!;
    expect(versusChance(v, 'thickness')).toEqual({ above: ['3', '7.5'], notAbove: ['0'] });
  });

  it('count how often the negative word lowers, keeps or raises the share in its own bin, with the mean change', () => {
    const v = text2imgTables(fixture())!;
    expect(negativeSummary(v)).toEqual([
      'With the word in the prompt, naming it as the negative prompt too lowers it for 6 of 9 words, leaves it unchanged for 2 and raises it for 1 (mean change −11.1 points).',
      'For “the digit k”, the negative word alone lowers it for 4 of 9 words, leaves it unchanged for 4 and raises it for 1 (mean change −5.6 points).',
      'With the word as its own negative, the share is below the same prompts’ unguided share (w = 0 in the table by w) for 2 of 9 words.',
    ]);
    const allLower = fixture();
    for (const n of Object.values(allLower.text2img.negative) as Json[]) n.promptWithNegative = 0.1;
    expect(negativeSummary(text2imgTables(allLower)!)[0]).toMatch(/^With the word in the prompt, naming it as the negative prompt too lowers it for all 9 words \(mean change/);
    const noUnguided = fixture();
    delete noUnguided.text2img.byW['0'];
    expect(negativeSummary(text2imgTables(noUnguided)!)).toHaveLength(2);
  });

  it('say which words’ shares rise, fall or stay from the first w to the last, and which end at or below chance', () => {
    expect(wordsSummary(text2imgTables(fixture())!)).toEqual([
      'From w = 0 to w = 7.5 the share rises for 7 of 9 words and stays for medium and wide.',
      'At w = 7.5, narrow, medium and wide are at or below the chance line.',
    ]);
  });

  it('write settings and changes as the tables do', () => {
    expect(settingText(0)).toBe('0');
    expect(settingText(7.5)).toBe('7.5');
    expect(settingText(1)).toBe('1');
    expect(pointsText(0.125)).toBe('+12.5');
    expect(pointsText(-0.04)).toBe('−4.0');
    expect(pointsText(0.0001)).toBe('0.0');
  });
});
