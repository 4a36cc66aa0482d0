/** A fetch that serves the files of one folder by their base name (what loadUNet and the other loaders request), 404 otherwise. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function folderFetch(dir: string): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const url = String(input);
    const file = join(dir, url.slice(url.lastIndexOf('/') + 1));
    if (!existsSync(file)) return new Response('not found', { status: 404, statusText: 'Not Found' });
    return new Response(readFileSync(file));
  }) as typeof fetch;
}
