/// <reference lib="webworker" />
/**
 * The service worker (built by @vite-pwa/astro's injectManifest into dist/sw.js; registered by src/lib/registerSw.ts).
 *
 * Offline: every page, script, style, font, wasm binary, digit file and model file of the build is precached
 * (`self.__WB_MANIFEST`, each with its revision), so the lessons work offline after the first visit. A new build
 * has new revisions: the new worker installs its files, takes over at once (skipWaiting + clientsClaim) and drops
 * what the old build had, so the next page a reader opens is the new one; open pages are told (registerSw).
 *
 * Isolation on static hosts: every same-origin response it hands out gets COOP same-origin, COEP require-corp and
 * CORP same-origin (the coi-serviceworker pattern), so pages opened under its control are cross-origin isolated
 * and the wasm backend can run on several threads. The notebook's kernel frame also gets KERNEL_FRAME_HEADERS
 * (its sandbox directive gives it an opaque origin, see src/lib/kernelFramePolicy.ts).
 */
import { clientsClaim } from 'workbox-core';
import { addPlugins, cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';
import { registerRoute } from 'workbox-routing';
import { NetworkOnly } from 'workbox-strategies';
import type { WorkboxPlugin } from 'workbox-core/types.js';
import { KERNEL_FRAME_HEADERS, KERNEL_FRAME_PATH } from './lib/kernelFramePolicy';
import { isolatedResponse } from './lib/swHeaders';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

const scope = new URL(self.registration.scope);
const kernelFrame = new URL(KERNEL_FRAME_PATH.replace(/^\//, ''), scope).pathname;

/** Adds the isolation headers (and the frame's policy on the kernel frame) to every same-origin response. */
const isolate: WorkboxPlugin = {
  handlerWillRespond: async ({ request, response }) => isolatedResponse(response, new URL(request.url), self.location.origin, kernelFrame, KERNEL_FRAME_HEADERS),
};

self.skipWaiting();
clientsClaim();
cleanupOutdatedCaches();
addPlugins([isolate]);
// Directory pages are precached as …/index.html: '/lessons/x/' finds its file through directoryIndex.
precacheAndRoute(self.__WB_MANIFEST, { directoryIndex: 'index.html', cleanURLs: false, ignoreURLParametersMatching: [/.*/] });
// Anything else of this site (a file added after the build, a missing page's 404) goes to the network, with the same headers.
registerRoute(({ url, request }) => url.origin === self.location.origin && request.method === 'GET', new NetworkOnly({ plugins: [isolate] }));

self.addEventListener('message', (event) => {
  if ((event.data as { type?: string } | null)?.type === 'SKIP_WAITING') void self.skipWaiting();
});
