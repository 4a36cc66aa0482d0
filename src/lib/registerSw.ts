/**
 * Registers the service worker (src/sw.ts → /sw.js), which keeps the site for offline use and serves it
 * cross-origin isolated (wasm threads). Included once by BaseLayout.astro as a bundled module script.
 *
 * First visit: the worker installs (precaching the whole site) and takes control of this page at once
 * (clientsClaim). Nothing reloads: this page keeps its widgets, notebook edits and any training run as they are,
 * and cross-origin isolation starts with the next page the reader opens (or the next reload), since a document's
 * isolation is fixed when it loads. That can never loop and never throws work away.
 *
 * A new build: the new worker takes over as soon as it has installed (skipWaiting), so every page opened from then
 * on is the new one. A page that was already open keeps the old version, and a notice offers to reload it; it
 * never reloads by itself.
 */

const NOTICE_ID = 'site-update-notice';

/** The notice on an open page after the site was updated; Reload reloads, Later hides it. */
export function showUpdateNotice(doc: Document = document): HTMLElement {
  const existing = doc.getElementById(NOTICE_ID);
  if (existing) return existing;
  const box = doc.createElement('div');
  box.id = NOTICE_ID;
  box.setAttribute('role', 'status');
  box.style.cssText =
    'position:fixed;left:50%;bottom:1rem;transform:translateX(-50%);z-index:50;display:flex;gap:0.75rem;align-items:center;' +
    'max-width:min(36rem,92vw);padding:0.6rem 0.9rem;border:1px solid var(--border);border-radius:0.5rem;' +
    'background:var(--surface,var(--bg-soft));color:var(--text);box-shadow:0 6px 20px rgb(0 0 0 / 0.18);font-size:0.9rem;';
  const text = doc.createElement('span');
  text.textContent = 'A new version of Diffusion Lab is available. Reload this page to use it (edits in notebook cells that are not in the address are lost).';
  const reload = doc.createElement('button');
  reload.type = 'button';
  reload.textContent = 'Reload';
  reload.addEventListener('click', () => doc.defaultView?.location.reload());
  const later = doc.createElement('button');
  later.type = 'button';
  later.textContent = 'Later';
  later.addEventListener('click', () => box.remove());
  box.append(text, reload, later);
  doc.body.append(box);
  return box;
}

/** What registration found, for the page's console and the e2e tests (`window.diffusionLabOffline`). */
export interface OfflineState {
  /** 'unsupported' (no service workers here, or `astro dev`), 'registering', 'ready' (the site is stored for offline use), 'failed'. */
  status: 'unsupported' | 'registering' | 'ready' | 'failed';
  /** Why registration failed. */
  error?: string;
  /** True once a newer build took over while this page was open. */
  updated: boolean;
}

/** Register `${base}sw.js` for the whole site; announce a later update on this page. */
export function registerServiceWorker(base: string = import.meta.env.BASE_URL ?? '/'): OfflineState {
  const state: OfflineState = { status: 'registering', updated: false };
  (window as unknown as { diffusionLabOffline: OfflineState }).diffusionLabOffline = state;
  const sw = navigator.serviceWorker as ServiceWorkerContainer | undefined;
  // `astro dev` builds no service worker.
  if (!sw || !window.isSecureContext || import.meta.env.DEV) {
    state.status = 'unsupported';
    return state;
  }
  const root = base.endsWith('/') ? base : `${base}/`;
  // A page opened under a worker already: a later change of controller is a new build taking over.
  let controlled = sw.controller !== null;
  sw.addEventListener('controllerchange', () => {
    if (controlled) {
      state.updated = true;
      showUpdateNotice();
    }
    controlled = true;
  });
  sw.register(`${root}sw.js`, { scope: root }).then(
    () =>
      sw.ready.then(() => {
        state.status = 'ready';
      }),
    (e: unknown) => {
      state.status = 'failed';
      state.error = e instanceof Error ? e.message : String(e);
    },
  );
  return state;
}
