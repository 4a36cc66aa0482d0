/**
 * Node-only: let plain Node (and tsx) load tfjs-core's ESM `dist/` files, whose relative imports have no
 * file extension ('./gradients/Abs_grad', '../gradients'). Needed for `register_all_gradients`, which
 * tfjs-core's Node bundle does not include (bundlers and Vitest resolve these imports themselves).
 * Call `enableTfjsCoreEsm()` before importing anything that imports src/core/nn/registerGradients.ts
 * (e.g. src/core/train.ts) — i.e. import those modules dynamically after the call.
 *
 * No resolver the scripts can run under needs it less: tsx alone adds the extensions but resolves
 * `./gradients` (both `gradients.js` and a `gradients/` folder exist) as the folder and fails with
 * ERR_UNSUPPORTED_DIR_IMPORT; Node's own ESM resolver adds no extensions (ERR_MODULE_NOT_FOUND at
 * `./gradients/Abs_grad`) and Node 20 has no `--experimental-specifier-resolution=node` any more.
 */
import { register } from 'node:module';

const HOOK = `
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const DIST = '/@tensorflow/tfjs-core/dist/';
export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? '';
  if (parent.includes(DIST) && specifier.startsWith('.') && !/\\.[cm]?js$/.test(specifier)) {
    for (const suffix of ['.js', '/index.js']) {
      const url = new URL(specifier + suffix, parent);
      if (existsSync(fileURLToPath(url))) return { url: url.href, format: 'module', shortCircuit: true };
    }
  }
  const result = await next(specifier, context);
  if (result.url.includes(DIST) && !result.url.endsWith('.node.js')) return { ...result, format: 'module' };
  return result;
}
`;

let enabled = false;

/** Install the resolve hook once per process. */
export function enableTfjsCoreEsm(): void {
  if (enabled) return;
  register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
  enabled = true;
}
