/** The backend badge's words (BackendBadge.svelte), kept apart so they can be tested without a DOM. */
import type { BackendName } from '../../core/backendNames';

/** The badge's short text: the backend, and for wasm on more than one thread how many ("wasm · 2 threads"). */
export function badgeText(backend: BackendName, threads?: number): string {
  return backend === 'wasm' && threads !== undefined && threads > 1 ? `wasm · ${threads} threads` : backend;
}

/** The menu's sentence about wasm threads (null for other backends or when the worker did not say). */
export function threadsSentence(backend: BackendName | null, threads?: number): string | null {
  if (backend !== 'wasm' || threads === undefined) return null;
  if (threads > 1) return `It runs on ${threads} threads.`;
  return 'It runs on one thread. Several threads need at least 4 logical cores and a page that is cross-origin isolated, which the site’s offline support provides from the second page you open.';
}
