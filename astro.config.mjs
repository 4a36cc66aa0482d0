// @ts-check
import { defineConfig } from 'astro/config';
import mdx from '@astrojs/mdx';
import svelte from '@astrojs/svelte';
import remarkMath from 'remark-math';
import rehypeKatex from 'rehype-katex';
import { serveModels } from './scripts/astro-models.mjs';

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
  ],
  markdown: {
    remarkPlugins: [remarkMath],
    rehypePlugins: [[rehypeKatex, { strict: 'warn', output: 'htmlAndMathml' }]],
    syntaxHighlight: 'shiki',
    shikiConfig: { themes: { light: 'github-light-default', dark: 'github-dark-default' } },
  },
  vite: {
    worker: { format: 'es' },
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
  },
});
