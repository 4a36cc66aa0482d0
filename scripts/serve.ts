/**
 * `npm start` / `npm run preview`: Astro's preview server for the built site (dist/) with the site's per-path
 * headers (scripts/siteHeaders.ts): the page policy, cross-origin isolation, the kernel frame's own policy.
 * Options as `astro preview`'s: --host (default 127.0.0.1) and --port (default 4321).
 */
import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import { preview } from 'astro';
import { installSiteHeaders } from './siteHeaders';

const root = resolve(import.meta.dirname, '..');
const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const server = await preview({
  root,
  server: { host: option('host') ?? '127.0.0.1', port: Number(option('port') ?? 4321) },
});
const http = (server as { server?: Server }).server;
if (!http) throw new Error('Astro preview returned no HTTP server, so the site headers cannot be set.');
installSiteHeaders(http, join(root, 'dist'));
