/**
 * End-to-end harness: finds a Chromium, serves the built site (dist/) with Astro's preview server on a free local
 * port, opens pages that record every console error, page error, failed request and request to another origin,
 * and wraps the page's `diffusionLab` handle. It never downloads a browser. The per-file hooks are in ./useSite.ts
 * (this module is also imported by the benchmarks, outside Vitest).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, accessSync, constants } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { installSiteHeaders } from '../../scripts/siteHeaders';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DIST = join(ROOT, 'dist');
export const SHOTS = join(ROOT, 'test-results', 'screenshots');

const INSTALL_HINT =
  'No Chromium found for the end-to-end tests. Set CHROME_PATH to a Chromium or Chrome binary, or install ' +
  "Debian's package: `sudo apt-get install -y chromium` (then /usr/bin/chromium is used). The tests never download a browser.";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** CHROME_PATH, then /usr/bin/chromium, then `chromium` or `google-chrome` on the PATH. */
export function findBrowser(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHROME_PATH) {
    if (isExecutable(env.CHROME_PATH)) return env.CHROME_PATH;
    throw new Error(`CHROME_PATH is set to ${env.CHROME_PATH}, which is not an executable file. ${INSTALL_HINT}`);
  }
  if (isExecutable('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const name of ['chromium', 'google-chrome']) {
    for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  throw new Error(INSTALL_HINT);
}

/** Flags for a quiet, offline headless Chromium (see the machine notes: background networking must be off). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--enable-unsafe-webgpu',
];

/** Headless Chromium with the quiet, offline flags (or others). */
export function launchChromium(args: readonly string[] = CHROMIUM_ARGS): Promise<Browser> {
  return chromium.launch({ executablePath: findBrowser(), headless: true, args: [...args] });
}

/** A port of 127.0.0.1 that nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer().once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

/**
 * Serve dist/ with Astro's preview server and the site's headers (what `npm start` runs: scripts/serve.ts) on a
 * free port of 127.0.0.1.
 */
export async function serveDist(): Promise<{ url: string; close(): Promise<void> }> {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error('dist/ has no build: run `npm run build` first.');
  process.env.ASTRO_TELEMETRY_DISABLED ??= '1'; // no request to any other origin, Astro's usage report included
  const { preview } = await import('astro');
  const port = await freePort();
  const server = await preview({ root: ROOT, logLevel: 'error', server: { host: '127.0.0.1', port } });
  // Vite moves to the next port if another process took this one meanwhile; the HTTP server knows the real one.
  const http = (server as { server?: Server }).server;
  if (!http) throw new Error('Astro preview returned no HTTP server, so the site headers cannot be set.');
  installSiteHeaders(http, DIST);
  const address = http.address();
  const actual = address && typeof address === 'object' ? address.port : port;
  return { url: `http://127.0.0.1:${actual}`, close: () => server.stop() };
}

export interface Site {
  url: string;
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Serve dist/ and launch Chromium, with `args` in place of CHROMIUM_ARGS when given (e.g. without
 * --enable-unsafe-webgpu, as a reader's Chromium starts). Call `close()` in afterAll (./useSite.ts does both).
 */
export async function openSite(options: { args?: readonly string[] } = {}): Promise<Site> {
  const server = await serveDist();
  const browser = await launchChromium(options.args);
  return {
    url: server.url,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Everything a page did wrong while it was open. */
export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  failedRequests: string[];
  foreignRequests: string[];
}

/**
 * Open a context + page that records problems. Requests to any origin other than the site's are
 * blocked (and recorded), so a test fails instead of the page quietly reaching the network.
 */
export async function openPage(
  site: Site,
  options: {
    colorScheme?: 'light' | 'dark';
    width?: number;
    height?: number;
    reducedMotion?: 'reduce' | 'no-preference';
    /**
     * 'block' (default): the site's service worker never registers, so `context.route` sees every request (it
     * cannot see what a service worker serves from its cache). 'allow': tests/e2e/offline.test.ts.
     */
    serviceWorkers?: 'allow' | 'block';
  } = {},
): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const context = await site.browser.newContext({
    serviceWorkers: options.serviceWorkers ?? 'block',
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    colorScheme: options.colorScheme ?? 'light',
    reducedMotion: options.reducedMotion ?? 'no-preference',
  });
  const origin = new URL(site.url).origin;
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], failedRequests: [], foreignRequests: [] };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || url.startsWith('blob:') || new URL(url).origin === origin) return route.continue();
    problems.foreignRequests.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => problems.pageErrors.push(String(err)));
  page.on('requestfailed', (req) => {
    const url = req.url();
    if (!problems.foreignRequests.includes(url)) problems.failedRequests.push(`${url} (${req.failure()?.errorText})`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.failedRequests.push(`${res.url()} (HTTP ${res.status()})`);
  });
  return { context, page, problems };
}

/** Every page of the build that a reader can reach: each index.html under dist/ (the home page first). */
export function sitePaths(): string[] {
  const found: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      if (!d.isDirectory() || d.name.startsWith('_') || ['data', 'models'].includes(d.name)) continue;
      if (existsSync(join(dir, d.name, 'index.html'))) found.push(`${prefix}${d.name}/`);
      walk(join(dir, d.name), `${prefix}${d.name}/`);
    }
  };
  walk(DIST, '/');
  return ['/', ...found.sort()];
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** Run axe-core in the page (or only within the elements `within` selects); return violations of at least serious impact. */
export async function seriousAxeViolations(page: Page, within?: string): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol: an inline <script> tag would be refused by the page policy.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async (scope) => {
    // @ts-expect-error — injected global
    const result = await window.axe.run(scope ?? document, { resultTypes: ['violations'] });
    return result.violations.map((v: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  }, within);
  return violations.filter((v: AxeViolation) => v.impact === 'serious' || v.impact === 'critical');
}

export function screenshotPath(name: string): string {
  mkdirSync(SHOTS, { recursive: true });
  const slug = name.replace(/^\/(?=-|$)/, 'home').replace(/[^a-z0-9-]+/gi, '_').replace(/^_+|_+$/g, '');
  return join(SHOTS, `${slug}.png`);
}

/** Scroll through the whole page so every `client:visible` island hydrates, then wait for its compute. */
export async function hydrateAll(page: Page, timeoutMs = 120_000): Promise<void> {
  await page.evaluate(async () => {
    const step = Math.max(200, window.innerHeight * 0.8);
    for (let y = 0; y < document.documentElement.scrollHeight; y += step) {
      window.scrollTo(0, y);
      await new Promise((r) => setTimeout(r, 60));
    }
    // On a busy machine a quick pass can scroll past an island between two frames, so its visibility observer never
    // fires: bring each widget that has not started into view once more, and give it a moment.
    for (const w of document.querySelectorAll('[data-widget]')) {
      // Astro removes an island's `ssr` attribute once it has hydrated.
      if (w.closest('astro-island[ssr]') === null && w.getAttribute('data-status') !== 'idle') continue;
      w.scrollIntoView({ block: 'center' });
      await new Promise((r) => setTimeout(r, 250));
    }
    window.scrollTo(0, 0);
  });
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-widget]')].every((w) => !['idle', 'loading'].includes(w.getAttribute('data-status') ?? '')),
    undefined,
    { timeout: timeoutMs },
  );
}

/** Widgets whose compute failed (their data-status is 'error'), with the message they show. */
export async function brokenWidgets(page: Page): Promise<string[]> {
  return page.$$eval('[data-widget][data-status="error"]', (ws) => ws.map((w) => `${w.getAttribute('data-widget')}: ${w.querySelector('.error')?.textContent ?? ''}`));
}

/** Wait until the widget `selector` says its compute is ready (scrolling it into view, which hydrates it). */
export async function ready(page: Page, selector: string, timeout = 180_000): Promise<void> {
  await page.locator(selector).scrollIntoViewIfNeeded();
  await page.waitForSelector(`${selector}[data-status="ready"]`, { timeout });
}

/** The page's console handle to the compute worker (src/widgets/lib/compute.ts), as `window` has it. */
export interface LabWindow {
  diffusionLab: {
    memory(): Promise<WorkerMemory>;
    backend(): Promise<{ attempts: { name: string; ok: boolean }[] }>;
    request(kind: string, params: unknown): Promise<any>;
  };
}

export type WorkerMemory = { numTensors: number; numBytes: number; backend: string | null };

/** The worker's tensor count, bytes and backend. */
export const memory = (page: Page): Promise<WorkerMemory> => page.evaluate(() => (window as unknown as LabWindow).diffusionLab.memory());

/** The backend the worker chose and the rungs it tried. */
export const backendInfo = (page: Page) => page.evaluate(() => (window as unknown as LabWindow).diffusionLab.backend());

/** Send one request to the compute worker from the page; resolves with its result. */
export const request = (page: Page, kind: string, params: unknown) =>
  page.evaluate(([k, p]) => (window as unknown as LabWindow).diffusionLab.request(k as string, p), [kind, params] as const);

/**
 * Record the page's cumulative layout shift from its first paint on (shifts right after input do not count); call
 * before `goto`. Returns a reader of the running total.
 */
export async function trackLayoutShift(page: Page): Promise<() => Promise<number>> {
  await page.addInitScript(() => {
    (window as unknown as { __cls: number }).__cls = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) {
        if (!entry.hadRecentInput) (window as unknown as { __cls: number }).__cls += entry.value;
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
  return () => page.evaluate(() => (window as unknown as { __cls: number }).__cls);
}
