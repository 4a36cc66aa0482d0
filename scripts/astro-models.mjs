// Astro integration: serve the repository's models/ folder at /models/ in `astro dev`
// and copy it into the build output, so shipped weights never live in public/ twice.
import { createReadStream, existsSync, statSync, cpSync } from 'node:fs';
import { join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentType } from './mime.mjs';

const modelsDir = resolve(fileURLToPath(new URL('..', import.meta.url)), 'models');

/** @returns {import('astro').AstroIntegration} */
export function serveModels() {
  return {
    name: 'diffusion-lab:models',
    hooks: {
      'astro:server:setup': ({ server }) => {
        server.middlewares.use('/models', (req, res, next) => {
          const rel = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]));
          const file = join(modelsDir, rel);
          if (!file.startsWith(modelsDir + sep) || !existsSync(file) || !statSync(file).isFile()) return next();
          res.setHeader('Content-Type', contentType(file));
          createReadStream(file).pipe(res);
        });
      },
      'astro:build:done': ({ dir }) => {
        if (existsSync(modelsDir)) cpSync(modelsDir, join(fileURLToPath(dir), 'models'), { recursive: true });
      },
    },
  };
}
