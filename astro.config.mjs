// @ts-check
import { defineConfig } from 'astro/config';
import mdx from '@astrojs/mdx';
import svelte from '@astrojs/svelte';
import remarkMath from 'remark-math';
import rehypeKatex from 'rehype-katex';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { serveModels } from './scripts/astro-models.mjs';
import { kernelFramePolicy } from './scripts/astro-kernel-frame-policy.mjs';
import { INLINE_SCRIPT_FILES, PAGE_DIRECTIVES, SCRIPT_SOURCES, STYLE_SOURCES } from './src/lib/sitePolicy.ts';

/**
 * Astro 5.18's config accepts only the directives it knows, and style-src-attr is not one of them (nor does
 * Astro.csp.insertDirective help: it repeats a new directive after every existing one). Astro joins the entries with
 * ';', so a directive it does not know travels in the entry before it.
 * @param {readonly string[]} directives
 * @returns {any[]} entries Astro's schema checks when it loads the config
 */
function astroDirectives(directives) {
  const known = /^(base-uri|child-src|connect-src|default-src|fenced-frame-src|font-src|form-action|frame-ancestors|frame-src|img-src|manifest-src|media-src|object-src|referrer|report-to|report-uri|require-trusted-types-for|sandbox|trusted-types|upgrade-insecure-requests|worker-src)(\s|$)/;
  /** @type {string[]} */
  const out = [];
  for (const d of directives) {
    if (known.test(d) || out.length === 0) out.push(d);
    else out[out.length - 1] += `;${d}`;
  }
  if (!known.test(out[0])) throw new Error(`The page policy must start with a directive Astro knows, not "${out[0]}".`);
  return out;
}

/**
 * @param {string} file an inline script's file, which the page carries verbatim
 * @returns {`sha256-${string}`}
 */
const sha256 = (file) => `sha256-${createHash('sha256').update(readFileSync(new URL(file, import.meta.url), 'utf8'), 'utf8').digest('base64')}`;
import { pwaOptions } from './scripts/astro-pwa.mjs';
import AstroPWA from '@vite-pwa/astro';

/**
 * Display maths scrolls sideways when it is wider than the column; a scrollable region must be reachable by
 * keyboard (axe: scrollable-region-focusable), so every display gets tabindex="0" and a label.
 */
function rehypeFocusableDisplays() {
  /** @param {any} node a hast node */
  const visit = (node) => {
    if (node.type === 'element' && node.tagName === 'span' && String(node.properties?.className ?? '').includes('katex-display')) {
      node.properties.tabIndex = 0;
      node.properties.role = 'group';
      node.properties.ariaLabel = 'equation (scrolls sideways when wider than the page)';
    }
    for (const child of node.children ?? []) visit(child);
  };
  return (/** @type {any} */ tree) => visit(tree);
}

/**
 * The notebook kernel worker runs from a blob: URL inside its sandbox frame (src/widgets/notebook/kernelFrame.ts),
 * where relative chunk imports cannot resolve: its worker bundle keeps its dynamic imports inline (one file).
 * Other workers keep their lazily loaded chunks.
 */
function singleFileKernelWorker() {
  let kernel = false;
  return {
    name: 'single-file-kernel-worker',
    /** @param {any} options */
    options(options) {
      kernel = JSON.stringify(options.input ?? '').includes('kernel.worker');
      return null;
    },
    /** @param {any} output */
    outputOptions(output) {
      return kernel ? { ...output, inlineDynamicImports: true } : null;
    },
  };
}

// Static site: lessons in content/lessons (MDX), maths typeset at build time by KaTeX,
// widgets as Svelte islands, shipped model weights from models/ served at /models/.
export default defineConfig({
  site: 'http://localhost:4321',
  output: 'static',
  trailingSlash: 'ignore',
  integrations: [
    mdx(),
    svelte(),
    serveModels(),
    kernelFramePolicy(),
    AstroPWA(pwaOptions), // after serveModels: its build:done copies models/ before the precache manifest is made
  ],
  markdown: {
    remarkPlugins: [remarkMath],
    rehypePlugins: [[rehypeKatex, { strict: 'warn', output: 'htmlAndMathml' }], rehypeFocusableDisplays],
    syntaxHighlight: 'shiki',
    shikiConfig: { themes: { light: 'github-light-default', dark: 'github-dark-default' } },
  },
  // The page policy (src/lib/sitePolicy.ts) as a <meta> on every page; Astro adds the hashes of the scripts and
  // styles it builds to script-src and style-src. The servers send the same policy as a header.
  experimental: {
    csp: {
      algorithm: 'SHA-256',
      directives: astroDirectives(PAGE_DIRECTIVES),
      scriptDirective: { resources: [...SCRIPT_SOURCES], hashes: INLINE_SCRIPT_FILES.map(sha256) },
      styleDirective: { resources: [...STYLE_SOURCES] },
    },
  },
  vite: {
    worker: {
      format: 'es',
      plugins: () => [singleFileKernelWorker()],
      // The workers' assets (the tfjs wasm binaries) under the same names as the page's own imports of them, so
      // the build holds one copy of each, which the service worker caches once.
      rollupOptions: { output: { assetFileNames: '_astro/[name].[hash][extname]' } },
    },
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
  },
});
