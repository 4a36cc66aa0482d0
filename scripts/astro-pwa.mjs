// @vite-pwa/astro's options: our own service worker (src/sw.ts, injectManifest), with the whole build precached.
// Registered by src/lib/registerSw.ts (no injected registration script); the web manifest is public/manifest.webmanifest.

/** Everything a lesson needs offline: pages, scripts, styles, fonts, images, wasm, digits (data/) and models (models/). */
export const PRECACHE_GLOBS = ['**/*.{html,js,css,woff2,svg,png,ico,webmanifest,wasm,json,bin,gz,txt}'];

/** @type {Partial<import('@vite-pwa/astro').PwaOptions>} */
export const pwaOptions = {
  strategies: 'injectManifest',
  srcDir: 'src',
  filename: 'sw.ts',
  injectRegister: false,
  manifest: false,
  registerType: 'autoUpdate',
  injectManifest: {
    globPatterns: PRECACHE_GLOBS,
    // The biggest model file and the wasm binaries are a few MB; the whole models/ folder is at most 8 MB.
    maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
    // Keep pages as …/index.html (the worker maps '/x/' to '/x/index.html'); the default transform would turn
    // them into '/x', which a directory request never asks for.
    manifestTransforms: [(entries) => ({ manifest: entries, warnings: [] })],
  },
  devOptions: { enabled: false },
};
