import { describe, expect, it } from 'vitest';
import { REQUESTS, WIDGET_STATE } from '../../src/workers/api';
import { ParamError, cleanParams, cleanValue, formatUrlValue, parseUrlValue, type ParamSpec, type UrlSpec } from '../../src/workers/params';

/** A small seeded generator for the fuzz (the test's own, independent of the code under test). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Values a page (or a hostile caller) might send in place of any parameter. */
const JUNK: unknown[] = [
  null, 'abc', '', '12', NaN, Infinity, -Infinity, 1e308, -1e308, -1, 0, 0.5, 3, 1e9, true, false, {}, [], [1, 2],
  ['x'], new Float32Array(3), new Float32Array(784).fill(NaN), new Uint8Array(4), Symbol.for('x'), () => 1, 'unet-mnist', '../etc', 'http://x.test/',
];

/** A clean value satisfies its declaration. */
function expectWithin(spec: ParamSpec, v: unknown): void {
  switch (spec.type) {
    case 'optional':
      if (v !== undefined) expectWithin(spec.of, v);
      return;
    case 'int':
    case 'float':
      expect(typeof v).toBe('number');
      expect(v as number).toBeGreaterThanOrEqual(spec.min);
      expect(v as number).toBeLessThanOrEqual(spec.max);
      if (spec.type === 'int') expect(Number.isInteger(v)).toBe(true);
      return;
    case 'choice':
      expect(spec.values).toContain(v);
      return;
    case 'enum':
      expect(spec.values).toContain(v);
      return;
    case 'bool':
      expect(typeof v).toBe('boolean');
      return;
    case 'model':
      expect(v).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      return;
    case 'text':
      expect(typeof v === 'string' && v.length <= spec.maxLength).toBe(true);
      return;
    case 'texts':
      expect(Array.isArray(v)).toBe(true);
      expect((v as string[]).length).toBeGreaterThanOrEqual(1);
      expect((v as string[]).length).toBeLessThanOrEqual(spec.maxItems);
      for (const x of v as string[]) expect(typeof x === 'string' && x.length <= spec.maxLength).toBe(true);
      return;
    case 'pixels':
      expect(v).toBeInstanceOf(Float32Array);
      expect((v as Float32Array).length).toBeGreaterThanOrEqual(spec.minLength);
      expect((v as Float32Array).length).toBeLessThanOrEqual(spec.maxLength);
      expect(Array.from(v as Float32Array).every(Number.isFinite)).toBe(true);
      return;
    case 'bytes':
      expect(v).toBeInstanceOf(Uint8Array);
      return;
    case 'ints':
      expect(Array.isArray(v)).toBe(true);
      for (const x of v as number[]) {
        expect(Number.isInteger(x)).toBe(true);
        expect(x).toBeGreaterThanOrEqual(spec.min);
        expect(x).toBeLessThanOrEqual(spec.max);
      }
      return;
    case 'enums':
      for (const x of v as string[]) expect(spec.values).toContain(x);
      return;
  }
}

describe('request parameters', () => {
  it('clamps out-of-range numbers to their declared bounds and rounds integers', () => {
    const guide = REQUESTS.guide;
    const clean = cleanParams('guide', guide, { w: 55, digit: 12.6, count: -3, steps: 3.4, seed: 1e7, negative: -9 });
    expect(clean.w).toBe(guide.w.max);
    expect(clean.digit).toBe(9);
    expect(clean.count).toBe(guide.count.min);
    expect(clean.steps).toBe(guide.steps.min);
    expect(clean.seed).toBe(99_999);
    expect(clean.negative).toBe(-1);
    expect(clean.model).toBe('latent-mnist');
  });

  it('fills declared defaults and drops keys it does not declare', () => {
    const clean = cleanParams('race', REQUESTS.race, { sampler: 'ddpm', extra: 'ignored' }) as Record<string, unknown>;
    expect(clean).not.toHaveProperty('extra');
    expect(clean.sampler).toBe('ddpm');
    expect(clean.steps).toBe(REQUESTS.race.steps.default);
    expect(clean.eta).toBe(0);
  });

  it('refuses malformed values with an error that names the request and the parameter', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['guide', { w: 'strong' }, /guide: parameter "w" must be a finite number, got "strong"/],
      ['guide', { w: NaN }, /parameter "w" must be a finite number/],
      ['race', { sampler: 'plms' }, /race: parameter "sampler" must be one of ddpm, ddim, dpmpp1, dpmpp2m, dpmpp3m, euler, heun, flow-euler, flow-heun, consistency, got "plms"/],
      ['inspect', { x0: [0, 1] }, /inspect: parameter "x0" must be a Float32Array, got an array of 2/],
      ['inspect', { x0: new Float32Array(10) }, /parameter "x0" must hold 784 values, got a Float32Array of 10/],
      ['inspect', { x0: new Float32Array(784).fill(Infinity) }, /parameter "x0" holds a non-finite value at index 0/],
      ['inspect', { x0: new Float32Array(784), model: '../secret' }, /parameter "model" must be a model name/],
      ['noise', { x0: new Float32Array(784), ts: [1, 'two'] }, /noise: parameter "ts\[1\]" must be a finite number/],
      ['lab.create', { pretrained: 'yes' }, /lab.create: parameter "pretrained" must be true or false/],
      ['lab.restore', { bytes: 'not bytes' }, /lab.restore: parameter "bytes" must be a Uint8Array/],
    ];
    for (const [kind, params, message] of cases) {
      const specs = REQUESTS[kind as keyof typeof REQUESTS];
      expect(() => cleanParams(kind, specs, params), kind).toThrow(ParamError);
      expect(() => cleanParams(kind, specs, params)).toThrow(message);
    }
    expect(() => cleanParams('inspect', REQUESTS.inspect, {})).toThrow(/inspect: parameter "x0" is missing/);
    expect(() => cleanParams('guide', REQUESTS.guide, 'w=3')).toThrow(/guide: parameter "\(all\)" must be an object/);
    expect(cleanParams('lab.info', REQUESTS['lab.info'], null)).toEqual({});
  });

  it('takes a list of texts within its declared count and length, and refuses anything else naming the item', () => {
    const spec = REQUESTS['clip.classify'].captions;
    expect(cleanValue('clip.classify', 'captions', spec, undefined)).toEqual(spec.default);
    expect(cleanValue('clip.classify', 'captions', spec, undefined)).not.toBe(spec.default);
    expect(cleanValue('clip.classify', 'captions', spec, ['a thin seven', ''])).toEqual(['a thin seven', '']);
    const long = 'x'.repeat(spec.maxLength);
    expect(cleanValue('clip.classify', 'captions', spec, [long])).toEqual([long]);
    const cases: [unknown, RegExp][] = [
      [[], /clip.classify: parameter "captions" must be an array of 1…16 texts, got an array of 0/],
      [Array.from({ length: spec.maxItems + 1 }, () => 'a'), /must be an array of 1…16 texts, got an array of 17/],
      ['the digit 7', /parameter "captions" must be an array of 1…16 texts, got "the digit 7"/],
      [['ok', 7], /parameter "captions\[1\]" must be text of at most 120 characters, got 7/],
      [['ok', `${long}y`], /parameter "captions\[1\]" must be text of at most 120 characters/],
    ];
    for (const [v, message] of cases) {
      expect(() => cleanValue('clip.classify', 'captions', spec, v)).toThrow(ParamError);
      expect(() => cleanValue('clip.classify', 'captions', spec, v)).toThrow(message);
    }
  });

  it('snaps a number to the nearest declared choice', () => {
    const { batchSize, lr } = REQUESTS['lab.create'];
    expect(cleanValue('lab.create', 'batchSize', batchSize, 2)).toBe(8);
    expect(cleanValue('lab.create', 'batchSize', batchSize, 40)).toBe(32);
    expect(cleanValue('lab.create', 'lr', lr, 0.0019)).toBe(0.002);
  });

  it('survives a fuzz of every parameter of every request: a clean value within bounds, or a ParamError', () => {
    const rand = lcg(20261202);
    let refused = 0;
    let accepted = 0;
    for (const [kind, specs] of Object.entries(REQUESTS)) {
      for (const [name, spec] of Object.entries(specs as Record<string, ParamSpec>)) {
        const values = [...JUNK, ...Array.from({ length: 40 }, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 12))];
        for (const v of values) {
          let out: unknown;
          try {
            out = cleanValue(kind, name, spec, v);
          } catch (e) {
            expect(e, `${kind}.${name} ← ${String(v)}`).toBeInstanceOf(ParamError);
            expect((e as Error).message).toContain(`"${name}`);
            refused++;
            continue;
          }
          accepted++;
          expectWithin(spec, out);
        }
      }
    }
    expect(refused).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(100);
  });
});

describe('URL values', () => {
  it('read back what they write, for every widget value the catalogue declares', () => {
    for (const [widget, specs] of Object.entries(WIDGET_STATE)) {
      for (const [key, spec] of Object.entries(specs as Record<string, UrlSpec>)) {
        const values =
          spec.type === 'enum' || spec.type === 'choice'
            ? spec.values
            : spec.type === 'bool'
              ? [true, false]
              : spec.type === 'text'
                ? [spec.default, '', 'x'.repeat(spec.maxLength), 'a thin 7, \u00e9 & = ? # %\nline two']
                : [spec.min, spec.max, spec.default];
        for (const v of values) expect(parseUrlValue(spec, formatUrlValue(spec, v)), `${widget}.${key}`).toBe(v);
      }
    }
  });

  it('cut text to its declared length, drop control characters but keep line breaks, and never split a character', () => {
    const spec = { type: 'text', default: 'hi', maxLength: 5 } as const;
    expect(parseUrlValue(spec, null)).toBe('hi');
    expect(parseUrlValue(spec, '')).toBe('');
    expect(parseUrlValue(spec, 'a\u0000b\tc\nd')).toBe('abc\nd');
    expect(parseUrlValue(spec, 'abcdefgh')).toBe('abcde');
    expect(parseUrlValue(spec, 'abcd\u{1F600}')).toBe('abcd');
    expect(parseUrlValue(spec, '<b>')).toBe('<b>');
  });

  it('never throw, and clamp or ignore whatever a link carries', () => {
    const rand = lcg(7);
    const alphabet = [...'0123456789.-+eE xyz%&=NaInfity\u00e9'];
    for (const specs of Object.values(WIDGET_STATE)) {
      for (const spec of Object.values(specs as Record<string, UrlSpec>)) {
        for (let i = 0; i < 60; i++) {
          const raw = Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
          expectWithin(spec, parseUrlValue(spec, raw));
        }
        expect(parseUrlValue(spec, null)).toBe(spec.default);
      }
    }
  });
});
