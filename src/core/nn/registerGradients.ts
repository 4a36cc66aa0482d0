/**
 * Registers tfjs-core's gradient functions (the umbrella `@tensorflow/tfjs` package does this; tfjs-core
 * alone does not). Import it for side effects wherever gradients are taken. Bundlers (Vite) and Vitest
 * resolve this ESM entry as is; plain Node needs the extensionless-import hook in scripts/lib/tfjsNode.ts.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
