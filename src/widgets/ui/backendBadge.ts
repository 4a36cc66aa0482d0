/** The backend badge's words (BackendBadge.svelte), kept apart so they can be tested without a DOM. */
import type { BackendName } from '../../core/backendNames';

/** The badge's short text: the backend, and for wasm on more than one thread how many ("wasm · 2 threads"). */
export function badgeText(backend: BackendName, threads?: number): string {
  return backend === 'wasm' && threads !== undefined && threads > 1 ? `wasm · ${threads} threads` : backend;
}

/** The menu's sentence about wasm threads (null for other backends or when the worker did not say). */
export function threadsSentence(backend: BackendName | null, threads?: number): string | null {
  if (backend !== 'wasm' || threads === undefined) return null;
  if (threads > 1) return `It runs on ${threads} threads, one per core (up to 4).`;
  return 'It runs on one thread: this page was not loaded cross-origin isolated, so the browser shares no memory between threads here. After the site has been saved for offline use, the next page you open runs on every core.';
}
