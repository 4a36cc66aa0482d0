/**
 * An edited cell travels in the page URL as `?cell.<id>=<base64url of its UTF-8 code>`. Reading never throws:
 * a malformed, oversized or non-text value is reported as unreadable and the cell keeps its original code.
 * Code from a URL is only ever shown, never run, until the reader presses Run (Cell.svelte).
 */

/** Longest code a link may carry (characters). */
export const MAX_SHARED_CODE = 20_000;

export const cellParam = (id: string) => `cell.${id}`;

export function encodeCode(code: string): string {
  const bytes = new TextEncoder().encode(code);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The code, or null if the value is not base64url-encoded UTF-8 text within the size limit. */
export function decodeCode(value: string): string | null {
  if (!/^[A-Za-z0-9_-]*$/.test(value) || value.length > (MAX_SHARED_CODE * 4 * 4) / 3 + 4) return null;
  try {
    const bin = atob(value.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (value.length % 4)) % 4));
    const code = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    // eslint-disable-next-line no-control-regex
    if (code.length > MAX_SHARED_CODE || /[\u0000-\u0008\u000e-\u001f]/.test(code)) return null;
    return code;
  } catch {
    return null;
  }
}

export type SharedCode = { kind: 'none' } | { kind: 'code'; code: string } | { kind: 'unreadable' };

/** What the URL's query says about cell `id`. */
export function readSharedCode(search: string, id: string): SharedCode {
  let raw: string | null;
  try {
    raw = new URLSearchParams(search).get(cellParam(id));
  } catch {
    return { kind: 'none' };
  }
  if (raw === null) return { kind: 'none' };
  const code = decodeCode(raw);
  return code === null ? { kind: 'unreadable' } : { kind: 'code', code };
}

/** The query string with cell `id` set to `code`, or removed when the code is the original. */
export function writeSharedCode(search: string, id: string, code: string, original: string): string {
  const params = new URLSearchParams(search);
  if (code === original) params.delete(cellParam(id));
  else params.set(cellParam(id), encodeCode(code));
  const s = params.toString();
  return s ? `?${s}` : '';
}
