/**
 * An edited cell travels in the page URL's fragment as `#cell.<id>=<base64url of its UTF-8 code>`. The fragment
 * is never sent to a server (unlike the query string, which the other widgets use for their settings). Reading
 * never throws: a malformed, oversized or non-text value is reported as unreadable and the cell keeps its
 * original code. Code from a URL is only ever shown, never run, until the reader presses Run (Cell.svelte).
 *
 * Fragment format: `&`-separated segments. A segment with `=` is an entry (`cell.<id>=<value>`, one per edited
 * cell); a segment without `=` is an in-page anchor (`#scratch`) and is left alone. So a plain anchor carries no
 * code, and writing a cell's entry keeps the anchor and every other segment: `#scratch&cell.scratch=…`.
 *
 * Links made before the fragment form (`?cell.<id>=…` in the query) are still read; the fragment wins when both
 * are present, and writing a cell's code removes its query form so that Reset really resets.
 */

/** Longest code a link may carry (characters). */
export const MAX_SHARED_CODE = 20_000;

export const cellParam = (id: string) => `cell.${id}`;

/** The parts of a page address that carry cell code (`location` fits). */
export interface UrlParts {
  search: string;
  hash: string;
}

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

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** The fragment's segments (without `#`), empty ones dropped. */
function segments(hash: string): string[] {
  return hash.replace(/^#/, '').split('&').filter((s) => s !== '');
}

/** Index of the segment that is the entry `key`, or -1. */
function entryIndex(segs: string[], key: string): number {
  return segs.findIndex((s) => {
    const eq = s.indexOf('=');
    return eq >= 0 && safeDecode(s.slice(0, eq)) === key;
  });
}

/** The fragment's in-page anchor (its first segment without `=`), or null: for a page that wants to scroll to it. */
export function fragmentAnchor(hash: string): string | null {
  const anchor = segments(hash).find((s) => !s.includes('='));
  return anchor === undefined ? null : safeDecode(anchor);
}

/** What the URL says about cell `id`: its fragment entry, else (older links) its query parameter. */
export function readSharedCode(url: UrlParts, id: string): SharedCode {
  const segs = segments(url.hash);
  const i = entryIndex(segs, cellParam(id));
  let raw: string | null;
  if (i >= 0) {
    const s = segs[i];
    raw = safeDecode(s.slice(s.indexOf('=') + 1));
    if (raw === null) return { kind: 'unreadable' };
  } else {
    try {
      raw = new URLSearchParams(url.search).get(cellParam(id));
    } catch {
      return { kind: 'none' };
    }
  }
  if (raw === null) return { kind: 'none' };
  const code = decodeCode(raw);
  return code === null ? { kind: 'unreadable' } : { kind: 'code', code };
}

/**
 * The URL's query and fragment (`?…#…`, either may be empty) with cell `id` set to `code` in the fragment, or
 * removed when the code is the original. The cell's old query parameter is always removed; everything else in
 * both (other widgets' settings, other cells, an anchor) is kept.
 */
export function writeSharedCode(url: UrlParts, id: string, code: string, original: string): string {
  const params = new URLSearchParams(url.search);
  params.delete(cellParam(id));
  const query = params.toString();
  const segs = segments(url.hash);
  const i = entryIndex(segs, cellParam(id));
  const entry = `${cellParam(id)}=${encodeCode(code)}`;
  if (code === original) {
    if (i >= 0) segs.splice(i, 1);
  } else if (i >= 0) segs[i] = entry;
  else segs.push(entry);
  return `${query ? `?${query}` : ''}${segs.length ? `#${segs.join('&')}` : ''}`;
}
