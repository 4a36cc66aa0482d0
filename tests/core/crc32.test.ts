import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/core/crc32';

describe('crc32', () => {
  it('gives the standard check values', () => {
    const ascii = (s: string) => new TextEncoder().encode(s);
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926); // the catalogue's check value for CRC-32/ISO-HDLC
    expect(crc32(ascii('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('agrees with zlib on random bytes and continues across pieces', () => {
    const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 2654435761) >>> 24);
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
    expect(crc32(bytes.subarray(1234), crc32(bytes.subarray(0, 1234)))).toBe(zlibCrc32(bytes));
  });
});
