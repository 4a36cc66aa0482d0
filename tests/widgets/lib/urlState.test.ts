import { describe, expect, it } from 'vitest';
import { defineUrlState } from '../../../src/widgets/lib/urlState';

const state = defineUrlState('scrub', {
  t: { type: 'int', default: 250, min: 0, max: 1000 },
  digit: { type: 'int', default: 3, min: 0, max: 9 },
  schedule: { type: 'enum', default: 'linear', values: ['linear', 'cosine'] as const },
  gain: { type: 'float', default: 0.5, min: 0, max: 2, step: 0.01 },
  playing: { type: 'bool', default: false },
});

describe('URL state', () => {
  it('reads defaults from an empty query', () => {
    expect(state.read('')).toEqual({ t: 250, digit: 3, schedule: 'linear', gain: 0.5, playing: false });
  });

  it('round-trips a state through the query string and omits defaults', () => {
    const s = { t: 731, digit: 3, schedule: 'cosine' as const, gain: 1.25, playing: true };
    const query = state.format(s, '?other=keep');
    expect(query).toContain('other=keep');
    expect(query).not.toContain('scrub.digit');
    expect(state.read(query)).toEqual(s);
  });

  it('clamps out-of-range numbers and rounds integers', () => {
    expect(state.read('?scrub.t=5000&scrub.digit=-4&scrub.gain=9').t).toBe(1000);
    expect(state.read('?scrub.t=5000&scrub.digit=-4').digit).toBe(0);
    expect(state.read('?scrub.t=12.6').t).toBe(13);
    expect(state.read('?scrub.gain=9').gain).toBe(2);
  });

  it('ignores malformed values instead of throwing', () => {
    for (const bad of ['abc', '', 'NaN', 'Infinity', '1e999', '0x10', '12px', '--3', '%%', ' ']) {
      expect(state.read(`?scrub.t=${encodeURIComponent(bad)}`).t).toBe(250);
    }
    expect(state.read('?scrub.schedule=quadratic').schedule).toBe('linear');
    expect(state.read('?scrub.playing=maybe').playing).toBe(false);
  });

  it('survives 500 random query strings', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const alphabet = 'scrub.tdigitschedulegainplaying=&?%#-+e.0123456789 \u00e9\u{1F600}';
    for (let i = 0; i < 500; i++) {
      const len = Math.floor(rand() * 60);
      let q = '';
      for (let j = 0; j < len; j++) q += [...alphabet][Math.floor(rand() * [...alphabet].length)];
      const s = state.read(q);
      expect(s.t).toBeGreaterThanOrEqual(0);
      expect(s.t).toBeLessThanOrEqual(1000);
      expect(Number.isInteger(s.t)).toBe(true);
      expect(['linear', 'cosine']).toContain(s.schedule);
      expect(typeof s.playing).toBe('boolean');
    }
  });
});
