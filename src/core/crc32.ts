/** CRC-32 (IEEE 802.3, the zlib/PNG polynomial 0xEDB88320, reflected), as PNG chunks and the MNIST file use it. */

let table: Uint32Array | undefined;

/** CRC-32 of `bytes`, continuing from `crc` (0 to start); crc32("123456789") = 0xCBF43926. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
