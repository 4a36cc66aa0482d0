// Content types for the model files that scripts/astro-models.mjs serves at /models/ in `astro dev`
// (the built site is served by Astro's preview server, which has its own table).
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.gz': 'application/octet-stream',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
};

/** @param {string} file */
export function contentType(file) {
  const dot = file.lastIndexOf('.');
  return TYPES[/** @type {keyof typeof TYPES} */ (file.slice(dot).toLowerCase())] ?? 'application/octet-stream';
}
