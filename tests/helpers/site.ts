/** Test-only: the built site's files served from the disk, as the workers fetch them in a page. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');
/** A stand-in origin for the site; nothing is requested from it. */
export const SITE = 'http://site.test/';

/** fetch for SITE: models/ from the repository's models/, everything else from public/ (data/ is made by prepare-data). */
export const diskFetch = (async (input: RequestInfo | URL) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.origin !== new URL(SITE).origin) throw new TypeError(`no network in tests: ${url.href}`);
  const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  const file = rel.startsWith('models/') ? join(ROOT, rel) : join(ROOT, 'public', rel);
  try {
    return new Response(await readFile(file));
  } catch {
    return new Response('not found', { status: 404, statusText: 'Not Found' });
  }
}) as typeof fetch;
