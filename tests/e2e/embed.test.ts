/**
 * The embed view: /embed/<widget>/?<state> shows one widget, working, at its URL state, in a 640 × 400 iframe on
 * another site's page, with a link back to its lesson in a new tab and no policy violation; /embed/ lists every
 * widget's address with an <iframe> snippet; other pages refuse to be framed by another site.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { DIST, ROOT, openPage, screenshotPath } from './harness';
import { useSite } from './useSite';
import { WIDGET_NAMES } from '../../src/lib/widgetNames';
import { GALLERY } from '../../src/widgets/gallery';

const site = useSite();

const GALLERY_NAMES = GALLERY.map((w) => w.name);
/** The built embed pages, one a widget. */
const builtEmbeds = () =>
  readdirSync(join(DIST, 'embed'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(DIST, 'embed', d.name, 'index.html')))
    .map((d) => d.name);

/** Each widget's lesson, read from the lessons' frontmatter: the first lesson (by order) that lists it. */
const LESSON_OF: Record<string, { title: string; path: string }> = (() => {
  const dir = join(ROOT, 'content/lessons');
  const lessons = readdirSync(dir)
    .filter((f) => f.endsWith('.mdx'))
    .map((f) => {
      const front = readFileSync(join(dir, f), 'utf8').split('---')[1];
      const field = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(front)?.[1]?.trim() ?? '';
      return {
        id: f.replace(/\.mdx$/, ''),
        title: field('title').replace(/^(['"])(.*)\1$/, '$2'),
        order: Number(field('order')),
        widgets: field('widgets').replace(/[[\]]/g, '').split(',').map((w) => w.trim()).filter(Boolean),
        draft: field('draft') === 'true',
      };
    })
    .filter((l) => !l.draft)
    .sort((a, b) => a.order - b.order);
  const out: Record<string, { title: string; path: string }> = {};
  for (const l of lessons) for (const w of l.widgets) out[w] ??= { title: l.title, path: `/lessons/${l.id}/` };
  return out;
})();

/**
 * Another origin's course page that frames `src` in a 640 × 400 iframe: a second local server (another port, so
 * another origin; frame-ancestors compares origins). A routed fake host on another site would give the frame its
 * own renderer process, which playwright-core's routing does not reach here.
 */
let teacher: { url: string; close(): Promise<void> } | undefined;
beforeAll(async () => {
  const server = createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '';
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><title>Slides</title><body style="margin:0;background:#fff">
      <iframe id="embed" src="${src.replace(/"/g, '&quot;')}" width="640" height="400" style="border:0" title="widget"></iframe></body>`);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  teacher = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((done) => server.close(() => done())) };
});
afterAll(async () => teacher?.close());

async function teacherPage(page: Page, src: string): Promise<Frame> {
  if (!teacher) throw new Error('the course page server starts in beforeAll');
  // openPage blocks other origins; this one is the test's own.
  await page.context().route(`${teacher.url}/**`, (route) => route.continue());
  await page.goto(`${teacher.url}/slides.html?src=${encodeURIComponent(src)}`);
  const handle = await page.waitForSelector('#embed');
  const frame = await handle.contentFrame();
  if (!frame) throw new Error('the iframe has no frame');
  return frame;
}

/** Record policy violations in every frame from before its first script. */
async function recordViolations(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __violations: string[] }).__violations = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`), true);
  });
}
const violations = (frame: Frame) => frame.evaluate(() => (window as unknown as { __violations: string[] }).__violations);

/** Scroll the frame's widget into view and wait until its compute is ready. */
async function widgetReady(frame: Frame, name: string) {
  const widget = frame.locator(`[data-widget="${name}"]`);
  await widget.scrollIntoViewIfNeeded();
  await frame.waitForSelector(`[data-widget="${name}"][data-status="ready"]`, { timeout: 180_000 });
}

describe('the embed view', () => {
  it('has a page for every widget of the gallery, which has every widget the site names', () => {
    expect([...GALLERY_NAMES].sort()).toEqual(Object.keys(WIDGET_NAMES).sort());
    expect(builtEmbeds().sort()).toEqual([...GALLERY_NAMES].sort());
  });

  for (const name of GALLERY_NAMES) {
    it(`/embed/${name}/ works in a 640 × 400 iframe on another site, with a link back and no violation`, async () => {
      const { context, page, problems } = await openPage(site);
      try {
        await recordViolations(context);
        const frame = await teacherPage(page, `${site.url}/embed/${name}/?backend=wasm`);
        await frame.waitForLoadState('load');
        await widgetReady(frame, name);
        // The widget alone: no site header, footer or skip link.
        expect(await frame.locator('header.site-header, footer.site-footer, .skip-link').count()).toBe(0);
        expect(await frame.locator('[data-widget]').count()).toBe(1);
        // It fits the frame's width: no sideways scrolling.
        const { scrollWidth, clientWidth } = await frame.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          clientWidth: document.documentElement.clientWidth,
        }));
        expect(clientWidth).toBeLessThanOrEqual(640);
        expect(scrollWidth, 'horizontal overflow in a 640 px frame').toBeLessThanOrEqual(clientWidth);
        // The link back to the lesson that teaches it, in a new tab.
        const link = frame.locator('a[target="_blank"]', { hasText: 'Open in Diffusion Lab:' });
        expect(await link.count()).toBe(1);
        expect(await link.getAttribute('rel')).toContain('noopener');
        const lesson = LESSON_OF[name];
        expect(await link.textContent()).toBe(`Open in Diffusion Lab: ${lesson.title}`);
        expect(new URL((await link.getAttribute('href'))!, site.url).pathname).toBe(lesson.path);
        expect(await frame.locator('[data-widget][data-status="error"]').count()).toBe(0);
        expect(await violations(frame)).toEqual([]);
        await page.screenshot({ path: screenshotPath(`embed-${name}`) });
        expect(problems).toEqual({ consoleErrors: [], pageErrors: [], failedRequests: [], foreignRequests: [] });
      } finally {
        await context.close();
      }
    });
  }

  it('shows a widget at the state its URL gives, dark when ?theme=dark, and links back at that state', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await recordViolations(context);
      const frame = await teacherPage(page, `${site.url}/embed/forward-scrubber/?scrub.t=777&scrub.digit=8&theme=dark&backend=wasm`);
      await widgetReady(frame, 'forward-scrubber');
      const scrubber = frame.locator('[data-widget="forward-scrubber"]');
      expect(await scrubber.locator('input[type="range"]').inputValue()).toBe('777');
      await expect.poll(() => scrubber.locator('.main-image .caption').textContent()).toContain('777');
      expect(await frame.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      // The page around the widget is transparent, so the slide shows through.
      expect(await frame.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgba(0, 0, 0, 0)');
      const link = frame.locator('a', { hasText: 'Open in Diffusion Lab:' });
      await link.focus();
      const href = new URL((await link.getAttribute('href'))!);
      expect(href.pathname).toBe(LESSON_OF['forward-scrubber'].path);
      expect(href.searchParams.get('scrub.t')).toBe('777');
      expect(href.searchParams.get('scrub.digit')).toBe('8');
      expect(href.searchParams.has('theme')).toBe(false);
      expect(await violations(frame)).toEqual([]);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('is framed by any site thanks to its header, while the other pages refuse other sites', async () => {
    const { context, page } = await openPage(site);
    try {
      const embed = await page.request.get(`${site.url}/embed/guidance-lab/`);
      expect(embed.headers()['content-security-policy']).toMatch(/frame-ancestors \*$/);
      const gallery = await page.request.get(`${site.url}/widgets/`);
      expect(gallery.headers()['content-security-policy']).toMatch(/frame-ancestors 'self'$/);

      const messages: string[] = [];
      page.on('console', (m) => messages.push(m.text()));
      const frame = await teacherPage(page, `${site.url}/widgets/`);
      await expect.poll(() => messages.some((m) => /frame-ancestors/.test(m)), { timeout: 20_000 }).toBe(true);
      // The refused frame never shows the gallery.
      expect(await frame.evaluate(() => document.querySelector('[data-widget]') !== null).catch(() => false)).toBe(false);
    } finally {
      await context.close();
    }
  });

  it('/embed/ lists every widget with its address and an <iframe> snippet to copy', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(`${site.url}/embed/`);
      const snippets = await page.locator('code[data-snippet]').allTextContents();
      expect(snippets).toHaveLength(GALLERY_NAMES.length);
      for (const name of GALLERY_NAMES) {
        const snippet = snippets.find((s) => s.includes(`<iframe src="${site.url}/embed/${name}/"`));
        expect(snippet, name).toBeDefined();
        expect(snippet).toMatch(/width="640" height="400"/);
        expect(snippet).toMatch(/title="[^"]+"/);
      }
      for (const name of GALLERY_NAMES) expect(await page.locator(`a[href="/embed/${name}/"]`).count()).toBe(1);
      expect(await page.locator('button[data-copy]').count()).toBe(GALLERY_NAMES.length);
      expect(problems).toEqual({ consoleErrors: [], pageErrors: [], failedRequests: [], foreignRequests: [] });
    } finally {
      await context.close();
    }
  });
});
