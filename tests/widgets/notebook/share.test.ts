import { describe, expect, it } from 'vitest';
import { MAX_SHARED_CODE, decodeCode, encodeCode, fragmentAnchor, readSharedCode, writeSharedCode } from '../../../src/widgets/notebook/share';

/** Split a `?…#…` suffix as `location` would. */
const parts = (suffix: string) => {
  const h = suffix.indexOf('#');
  return h < 0 ? { search: suffix, hash: '' } : { search: suffix.slice(0, h), hash: suffix.slice(h) };
};

describe('cell code in the URL', () => {
  it('round-trips any text, including non-ASCII, through the fragment, keeping the query for the widgets', () => {
    const code = 'const ᾱ = schedule.alphaBar; // ε ~ N(0, I) 🎲\nshow(ᾱ)\n\ttabs & ?query=1#hash';
    const v = encodeCode(code);
    expect(v).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCode(v)).toBe(code);
    const suffix = writeSharedCode({ search: '?scrub.t=5', hash: '' }, 'alpha-bar', code, 'original');
    expect(suffix).toBe(`?scrub.t=5#cell.alpha-bar=${v}`);
    expect(readSharedCode(parts(suffix), 'alpha-bar')).toEqual({ kind: 'code', code });
    expect(readSharedCode(parts(suffix), 'other')).toEqual({ kind: 'none' });
    // The code is not in the query, which is what a server would see.
    expect(parts(suffix).search).not.toContain('cell.');
  });

  it('drops the entry when the code is back to the original', () => {
    const edited = writeSharedCode({ search: '', hash: '' }, 'c', 'x + 1', 'x');
    expect(edited).toMatch(/^#cell\.c=/);
    expect(writeSharedCode(parts(edited), 'c', 'x', 'x')).toBe('');
  });

  it('keeps other cells, other fragment entries and an in-page anchor; replaces its own entry in place', () => {
    let url = { search: '?flow.steps=8', hash: '#scratch' };
    url = parts(writeSharedCode(url, 'a', 'A1', 'orig'));
    expect(url.hash).toBe(`#scratch&cell.a=${encodeCode('A1')}`);
    url = parts(writeSharedCode(url, 'b', 'B', 'orig'));
    url = parts(writeSharedCode(url, 'a', 'A2', 'orig'));
    expect(url.hash).toBe(`#scratch&cell.a=${encodeCode('A2')}&cell.b=${encodeCode('B')}`);
    expect(url.search).toBe('?flow.steps=8');
    expect(readSharedCode(url, 'a')).toEqual({ kind: 'code', code: 'A2' });
    expect(readSharedCode(url, 'b')).toEqual({ kind: 'code', code: 'B' });
    expect(fragmentAnchor(url.hash)).toBe('scratch');
    url = parts(writeSharedCode(url, 'a', 'orig', 'orig'));
    url = parts(writeSharedCode(url, 'b', 'orig', 'orig'));
    expect(url.hash).toBe('#scratch');
  });

  it('treats a plain anchor as no code', () => {
    expect(readSharedCode({ search: '', hash: '#scratch' }, 'scratch')).toEqual({ kind: 'none' });
    expect(readSharedCode({ search: '', hash: '#' }, 'scratch')).toEqual({ kind: 'none' });
    expect(fragmentAnchor('#cell.x=abc')).toBeNull();
    expect(fragmentAnchor('')).toBeNull();
  });

  it('still reads links made with the query form, and moves them to the fragment on the next write', () => {
    const old = { search: `?backend=wasm&cell.c=${encodeCode('old link')}`, hash: '#c' };
    expect(readSharedCode(old, 'c')).toEqual({ kind: 'code', code: 'old link' });
    // Both present: the fragment wins.
    expect(readSharedCode({ ...old, hash: `#cell.c=${encodeCode('new')}` }, 'c')).toEqual({ kind: 'code', code: 'new' });
    const moved = parts(writeSharedCode(old, 'c', 'edited', 'orig'));
    expect(moved).toEqual({ search: '?backend=wasm', hash: `#c&cell.c=${encodeCode('edited')}` });
    // Reset removes the query form too, so a reload does not bring the old code back.
    expect(writeSharedCode(old, 'c', 'orig', 'orig')).toBe('?backend=wasm#c');
  });

  it('reports malformed, binary or oversized values as unreadable instead of throwing', () => {
    expect(readSharedCode({ search: '?cell.c=%%%', hash: '' }, 'c')).toEqual({ kind: 'unreadable' });
    expect(readSharedCode({ search: '?cell.c=not*base64', hash: '' }, 'c')).toEqual({ kind: 'unreadable' });
    expect(readSharedCode({ search: '', hash: '#cell.c=%%%' }, 'c')).toEqual({ kind: 'unreadable' });
    expect(readSharedCode({ search: '', hash: '#cell.c=not*base64' }, 'c')).toEqual({ kind: 'unreadable' });
    expect(decodeCode('_w')).toBeNull(); // 0xff: not UTF-8
    expect(decodeCode(encodeCode('a\u0000b'))).toBeNull(); // control characters
    expect(decodeCode(encodeCode('x'.repeat(MAX_SHARED_CODE + 1)))).toBeNull();
    expect(decodeCode(encodeCode('x'.repeat(MAX_SHARED_CODE)))).toHaveLength(MAX_SHARED_CODE);
    expect(readSharedCode({ search: '?cell.c=', hash: '' }, 'c')).toEqual({ kind: 'code', code: '' });
    expect(readSharedCode({ search: '', hash: '#cell.c=' }, 'c')).toEqual({ kind: 'code', code: '' });
  });
});
