// Astro integration: the notebook kernel's frame keeps its own policy only.
//
// With experimental.csp on, Astro writes the page policy's <meta> into every page it renders. The kernel frame
// (KERNEL_FRAME_PATH, src/lib/kernelFramePolicy.ts) has a policy of its own, and a document obeys every policy it
// carries, so the page policy would block the frame's inline bootstrap and its blob: worker. After the build,
// this removes from the frame's file every Content-Security-Policy <meta> other than KERNEL_FRAME_CSP, and fails
// the build if the frame's own one is missing.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KERNEL_FRAME_CSP, KERNEL_FRAME_PATH } from '../src/lib/kernelFramePolicy.ts';
import { metaPolicy } from '../src/lib/sitePolicy.ts';

/** The frame's HTML with only its own policy <meta> (throws if it has none). */
export function keepKernelFramePolicy(/** @type {string} */ html) {
  let own = 0;
  const out = html.replace(/<meta\b[^>]*>/gi, (tag) => {
    const policy = metaPolicy(tag);
    if (policy === undefined) return tag;
    if (policy.trim() === KERNEL_FRAME_CSP) {
      own++;
      return tag;
    }
    return '';
  });
  if (own === 0) throw new Error(`The kernel frame (${KERNEL_FRAME_PATH}) has no <meta> with its own policy (KERNEL_FRAME_CSP).`);
  return out;
}

/**
 * The kernel worker bundles in `assetsDir` that no script of the build names. Astro's server-side render emits its
 * own unminified copy of the worker (about 3.8 MB) that no page loads; left there, the service worker would
 * precache it.
 * @param {string} assetsDir the build's _astro folder
 * @returns {string[]} file names
 */
export function unusedKernelWorkers(assetsDir) {
  const files = readdirSync(assetsDir);
  const scripts = files.filter((f) => f.endsWith('.js')).map((f) => ({ f, text: readFileSync(join(assetsDir, f), 'utf8') }));
  return files
    .filter((f) => /^kernel\.worker[-.][\w-]+\.js$/.test(f))
    .filter((f) => !scripts.some((s) => s.f !== f && s.text.includes(f)));
}

/** @returns {import('astro').AstroIntegration} */
export function kernelFramePolicy() {
  return {
    name: 'diffusion-lab:kernel-frame-policy',
    hooks: {
      'astro:build:done': ({ dir }) => {
        const file = join(fileURLToPath(dir), KERNEL_FRAME_PATH, 'index.html');
        if (existsSync(file)) writeFileSync(file, keepKernelFramePolicy(readFileSync(file, 'utf8')));
        const assets = join(fileURLToPath(dir), '_astro');
        if (existsSync(assets)) for (const f of unusedKernelWorkers(assets)) rmSync(join(assets, f));
      },
    },
  };
}
