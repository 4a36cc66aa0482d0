import { describe, expect, it } from 'vitest';
import { MAX_SHARED_CODE, decodeCode, encodeCode, readSharedCode, writeSharedCode } from '../../../src/widgets/notebook/share';

describe('cell code in the URL', () => {
  it('round-trips any text, including non-ASCII, through a URL-safe value', () => {
    const code = 'const ᾱ = schedule.alphaBar; // ε ~ N(0, I) 🎲\nshow(ᾱ)\n\ttabs & ?query=1#hash';
    const v = encodeCode(code);
    expect(v).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCode(v)).toBe(code);
    const search = writeSharedCode('?scrub.t=5', 'alpha-bar', code, 'original');
    expect(search).toContain('scrub.t=5');
    expect(readSharedCode(search, 'alpha-bar')).toEqual({ kind: 'code', code });
    expect(readSharedCode(search, 'other')).toEqual({ kind: 'none' });
  });

  it('drops the parameter when the code is back to the original', () => {
    const edited = writeSharedCode('', 'c', 'x + 1', 'x');
    expect(edited).toMatch(/^\?cell\.c=/);
    expect(writeSharedCode(edited, 'c', 'x', 'x')).toBe('');
  });

  it('reports malformed, binary or oversized values as unreadable instead of throwing', () => {
    expect(readSharedCode('?cell.c=%%%', 'c')).toEqual({ kind: 'unreadable' });
    expect(readSharedCode('?cell.c=not*base64', 'c')).toEqual({ kind: 'unreadable' });
    expect(decodeCode('_w')).toBeNull(); // 0xff: not UTF-8
    expect(decodeCode(encodeCode('a\u0000b'))).toBeNull(); // control characters
    expect(decodeCode(encodeCode('x'.repeat(MAX_SHARED_CODE + 1)))).toBeNull();
    expect(decodeCode(encodeCode('x'.repeat(MAX_SHARED_CODE)))).toHaveLength(MAX_SHARED_CODE);
    expect(readSharedCode('?cell.c=', 'c')).toEqual({ kind: 'code', code: '' });
  });
});
