// @ts-check
import { defineConfig } from 'astro/config';
import mdx from '@astrojs/mdx';
import svelte from '@astrojs/svelte';
import remarkMath from 'remark-math';
import rehypeKatex from 'rehype-katex';
import { serveModels } from './scripts/astro-models.mjs';
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
    AstroPWA(pwaOptions), // after serveModels: its build:done copies models/ before the precache manifest is made
  ],
  markdown: {
    remarkPlugins: [remarkMath],
    rehypePlugins: [[rehypeKatex, { strict: 'warn', output: 'htmlAndMathml' }], rehypeFocusableDisplays],
    syntaxHighlight: 'shiki',
    shikiConfig: { themes: { light: 'github-light-default', dark: 'github-dark-default' } },
  },
  vite: {
    worker: { format: 'es' },
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
  },
});
