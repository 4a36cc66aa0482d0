import { describe, expect, it } from 'vitest';
import { KERNEL_FRAME_HEADERS, KERNEL_FRAME_PATH } from '../../src/lib/kernelFramePolicy';
import { ISOLATION_HEADERS, isolatedResponse } from '../../src/lib/swHeaders';

const ORIGIN = 'https://lab.example';
const at = (path: string) => new URL(path, ORIGIN);
const wrap = (res: Response, path: string) => isolatedResponse(res, at(path), ORIGIN, KERNEL_FRAME_PATH, KERNEL_FRAME_HEADERS);

describe('the service worker’s headers', () => {
  it('makes a same-origin page cross-origin isolated and keeps its status, body and own headers', async () => {
    const res = wrap(new Response('<p>lesson</p>', { status: 200, headers: { 'Content-Type': 'text/html' } }), '/lessons/08-guidance/');
    expect(res.headers.get('Cross-Origin-Opener-Policy')).toBe('same-origin');
    expect(res.headers.get('Cross-Origin-Embedder-Policy')).toBe('require-corp');
    expect(res.headers.get('Cross-Origin-Resource-Policy')).toBe('same-origin');
    expect(res.headers.get('Content-Type')).toBe('text/html');
    expect(res.headers.get('Content-Security-Policy')).toBeNull();
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<p>lesson</p>');
  });

  it('gives the kernel frame its sandboxing policy too, under either of its addresses', () => {
    for (const path of [KERNEL_FRAME_PATH, `${KERNEL_FRAME_PATH}index.html`]) {
      const res = wrap(new Response('frame'), path);
      expect(res.headers.get('Content-Security-Policy')).toBe(KERNEL_FRAME_HEADERS['Content-Security-Policy']);
      expect(res.headers.get('Content-Security-Policy')).toMatch(/^sandbox allow-scripts; /);
      expect(res.headers.get('Cross-Origin-Embedder-Policy')).toBe(ISOLATION_HEADERS['Cross-Origin-Embedder-Policy']);
    }
  });

  it('keeps a 404 a 404 and gives a bodiless status no body', async () => {
    expect(wrap(new Response('missing', { status: 404 }), '/nope/').status).toBe(404);
    const empty = wrap(new Response(null, { status: 204 }), '/models/x.bin');
    expect(empty.status).toBe(204);
    expect(empty.headers.get('Cross-Origin-Resource-Policy')).toBe('same-origin');
  });

  it('passes other origins’ responses through untouched', () => {
    const original = new Response('x');
    expect(isolatedResponse(original, new URL('https://elsewhere.example/a.js'), ORIGIN, KERNEL_FRAME_PATH, KERNEL_FRAME_HEADERS)).toBe(original);
  });
});
