import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openPage, screenshotPath } from './harness';
import { useSite } from './useSite';
import { cell, hydrated, setCode, watchLongTasks } from './cells';

const site = useSite();

// wasm: headless Chromium's WebGL is SwiftShader (slow); the kernel uses the same backend ladder as the widgets.
const PAGE = '/notebook/?backend=wasm';
const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
/** A `key=value` entry of the URL's fragment (where edited cells travel: `#cell.<id>=…`), or null. */
const fragmentEntry = (url: string, key: string) => {
  const seg = new URL(url).hash.slice(1).split('&').find((s) => s.startsWith(`${key}=`));
  return seg === undefined ? null : seg.slice(key.length + 1);
};

async function runAndWait(page: Page, id: string, outcome: 'done' | 'error' | 'stopped' = 'done') {
  await hydrated(page, id);
  await page.locator(`${cell(id)} button.run`).click();
  await page.locator(`${cell(id)} [data-testid="${outcome}"]`).waitFor({ timeout: 120_000 });
}

const output = (page: Page, id: string) => page.locator(`${cell(id)} [data-testid="output"]`).innerText();

describe('notebook cells', () => {
  it('loads the editor only on focus, runs a cell, then runs an edit of it with Ctrl+Enter', async () => {
    const { context, page, problems } = await openPage(site);
    const scripts: string[] = [];
    page.on('request', (r) => scripts.push(r.url()));
    try {
      await page.goto(site.url + PAGE);
      await hydrated(page, 'alpha-bar');
      await page.waitForTimeout(500);
      expect(scripts.filter((u) => /cellEditor/.test(u))).toEqual([]);
      // The code is there, highlighted at build time, before any editor exists.
      expect(await page.locator(`${cell('alpha-bar')} .static`).innerText()).toContain("makeSchedule('linear', 1000)");

      await page.locator(`${cell('alpha-bar')} .static`).click();
      await page.locator(`${cell('alpha-bar')} .cm-content`).waitFor({ timeout: 60_000 });
      expect(scripts.filter((u) => /cellEditor/.test(u))).toHaveLength(1);
      await runAndWait(page, 'alpha-bar');
      expect(await output(page, 'alpha-bar')).toMatch(/drops below 0\.5 at t = \d+ \(linear\) and \d+ \(cosine\)/);
      expect(await page.locator(`${cell('alpha-bar')} .nb-plot path.series`).count()).toBe(2);
      expect(await output(page, 'alpha-bar')).toContain('No tensors left behind');

      await setCode(page, 'alpha-bar', "const squares = [1, 4, 9, 16];\nconsole.log('edited', 6 * 7);\nshow(squares)");
      expect(await page.locator(`${cell('alpha-bar')} .badges`).innerText()).toContain('edited');
      await page.keyboard.press('Control+Enter');
      await expect.poll(() => output(page, 'alpha-bar'), { timeout: 60_000 }).toContain('edited 42');
      await page.locator(`${cell('alpha-bar')} [data-testid="done"]`).waitFor();
      expect(await page.locator(`${cell('alpha-bar')} .nb-plot path.series`).count()).toBe(1);
      // The edit is in the address bar's fragment (never sent to a server), ready to share.
      await expect.poll(() => fragmentEntry(page.url(), 'cell.alpha-bar')).toBe(b64url("const squares = [1, 4, 9, 16];\nconsole.log('edited', 6 * 7);\nshow(squares)"));
      expect(new URL(page.url()).searchParams.get('cell.alpha-bar')).toBeNull();
      // Cells share the kernel: the scratch cell sees `squares`.
      await setCode(page, 'scratch', 'squares.reduce((a, b) => a + b)');
      await runAndWait(page, 'scratch');
      expect(await output(page, 'scratch')).toContain('30');
      await page.screenshot({ path: screenshotPath('notebook-cells'), fullPage: false });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
      expect(problems.foreignRequests).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows a syntax error and a runtime error with the line in the reader’s code', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + PAGE + '#scratch');
      await setCode(page, 'scratch', 'const a = 1;\nconst b = (a + ;\n');
      await runAndWait(page, 'scratch', 'error');
      const syntax = await page.locator(`${cell('scratch')} [data-testid="error"]`).innerText();
      expect(syntax).toMatch(/SyntaxError on line 2, column \d+/);
      expect(syntax).toContain('const b = (a + ;');

      await setCode(page, 'scratch', 'const a = 1;\nconst o: any = null;\n\nconsole.log("before");\nconst c = o.field + a;\n');
      await runAndWait(page, 'scratch', 'error');
      const runtime = await page.locator(`${cell('scratch')} [data-testid="error"]`).innerText();
      expect(runtime).toMatch(/TypeError on line 5/);
      expect(runtime).toContain('o.field');
      expect(await output(page, 'scratch')).toContain('before');
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('stops an endless loop without freezing the page, reports leftover tensors and frees them on restart', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + PAGE + '#scratch');
      await setCode(page, 'scratch', 'let i = 0;\nwhile (true) { i++; }');
      await page.locator(`${cell('scratch')} button.run`).click();
      await page.waitForSelector(`${cell('scratch')}[data-phase="running"]`, { timeout: 60_000 });
      await page.waitForTimeout(1000);
      // The page still answers while the kernel spins.
      const t0 = Date.now();
      expect(await page.evaluate(() => 6 * 7)).toBe(42);
      expect(Date.now() - t0).toBeLessThan(2000);
      await page.locator(`${cell('scratch')} button`, { hasText: 'Stop' }).click();
      await page.locator(`${cell('scratch')} [data-testid="stopped"]`).waitFor({ timeout: 10_000 });
      expect(await output(page, 'scratch')).toContain('stopped by you');

      // A fresh kernel runs the next cell; one that keeps tensors is told so, and Restart frees them.
      await setCode(page, 'scratch', 'const kept = [tf.ones([2, 2]), tf.zeros([3])];\nkept.length');
      await runAndWait(page, 'scratch');
      expect(await output(page, 'scratch')).toMatch(/left 2 tensors alive/);
      await page.locator(`${cell('scratch')} button`, { hasText: 'Restart kernel' }).click();
      await expect.poll(() => output(page, 'scratch')).toMatch(/Kernel restarted: freed 2 tensors/);
      // Variables are gone after the restart.
      await setCode(page, 'scratch', 'kept.length');
      await runAndWait(page, 'scratch', 'error');
      expect(await output(page, 'scratch')).toMatch(/kept is not defined/);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('never runs code from a link before Run is pressed, and says it differs from the original', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      const code = "console.log('from the link');\nshow(tf.ones([4]))";
      await page.goto(site.url + `${PAGE}#scratch&cell.scratch=${b64url(code)}`);
      await hydrated(page, 'scratch');
      await page.locator(`${cell('scratch')} [data-testid="from-link"]`).waitFor({ timeout: 60_000 });
      expect(await page.locator(`${cell('scratch')} .static`).innerText()).toContain("console.log('from the link')");
      // Shown as a diff against the lesson's scratch code: every line of the link's code is marked added.
      expect(await page.locator(`${cell('scratch')} [data-testid="review"] [data-op="add"]`).count()).toBe(2);
      await page.waitForTimeout(2000);
      expect(page.workers()).toHaveLength(0);
      expect(await output(page, 'scratch')).toBe('');
      await page.locator(`${cell('scratch')} button.run`).click();
      await page.locator(`${cell('scratch')} [data-testid="done"]`).waitFor({ timeout: 120_000 });
      expect(await output(page, 'scratch')).toContain('from the link');
      expect(page.workers().length).toBeGreaterThan(0);
      // Reset brings back the original and drops the code from the address.
      await page.locator(`${cell('scratch')} button`, { hasText: 'Reset' }).click();
      await expect.poll(() => fragmentEntry(page.url(), 'cell.scratch')).toBeNull();
      expect(new URL(page.url()).hash).toBe('#scratch');
      // Links made before the fragment form (code in the query) still open, still unrun.
      await page.goto(site.url + `${PAGE}&cell.scratch=${b64url(code)}#scratch`);
      await hydrated(page, 'scratch');
      await page.locator(`${cell('scratch')} [data-testid="from-link"]`).waitFor({ timeout: 60_000 });
      expect(await output(page, 'scratch')).toBe('');
      // A malformed link is ignored with a note, not an error.
      await page.goto(site.url + `${PAGE}#cell.scratch=%25%25not-base64*`);
      await hydrated(page, 'scratch');
      await page.locator(`${cell('scratch')} .badge.warn`).waitFor({ timeout: 60_000 });
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows a link’s changes as a diff, with code after long blanks and bidi controls made visible, and asks before running them', async () => {
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      // The lesson's alpha-bar cell as Cell.astro passes it, with code pushed 220 spaces to the right of an unchanged-looking
      // line and a right-to-left override in a new comment.
      const original = readFileSync('content/cells/alpha-bar.ts', 'utf8').replace(/^\n+/, '').replace(/\s+$/, '');
      const line = "const cosine = makeSchedule('cosine', 1000);";
      expect(original).toContain(line);
      const code = original.replace(line, `${line}${' '.repeat(220)}console.log('hidden payload');`) + "\n// ok \u202e;)'dedda'(gol.elosnoc";
      await page.goto(site.url + `${PAGE}#cell.alpha-bar=${b64url(code)}`);
      await hydrated(page, 'alpha-bar');
      await page.locator(`${cell('alpha-bar')} [data-testid="from-link"]`).waitFor({ timeout: 60_000 });
      const review = page.locator(`${cell('alpha-bar')} [data-testid="review"]`);
      expect(await review.locator('[data-op="add"]').count()).toBe(2);
      expect(await review.locator('[data-op="del"]').count()).toBe(1);
      const added = await review.locator('[data-op="add"]').first().innerText();
      expect(added).toContain('⟶ 220 spaces');
      expect(added).toContain("console.log('hidden payload')");
      expect(await review.locator('[data-op="add"]').first().textContent()).toMatch(/Line \d+, added: /); // said, not only coloured
      expect(await review.locator('.esc.bidi').innerText()).toContain('⟨U+202E⟩');
      expect(await review.innerText()).not.toContain('\u202e');
      expect(await page.locator(`${cell('alpha-bar')} [data-testid="hidden-chars"]`).innerText()).toContain('1 bidi control character');
      // Wrapped: nothing runs off the side of a phone.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.locator(cell('alpha-bar')).screenshot({ path: screenshotPath('notebook-link-review-390') });

      // Run asks first, and runs nothing until Run anyway.
      await page.locator(`${cell('alpha-bar')} button.run`).click();
      const prompt = page.locator(`${cell('alpha-bar')} [data-testid="hidden-prompt"]`);
      await prompt.waitFor({ timeout: 10_000 });
      expect(await prompt.innerText()).toMatch(/line 11, column \d+: ⟨U\+202E⟩ RIGHT-TO-LEFT OVERRIDE/);
      await page.waitForTimeout(1000);
      expect(page.workers()).toHaveLength(0);
      await prompt.locator('button', { hasText: 'Run anyway' }).click();
      await page.locator(`${cell('alpha-bar')} [data-testid="done"]`).waitFor({ timeout: 120_000 });
      expect(await output(page, 'alpha-bar')).toContain('hidden payload');
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('keeps the page’s messages private: a cell can neither read the next cell’s code nor fake the kernel’s answers', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + PAGE + '#alpha-bar');
      // A spy in one cell: listens on the worker global, and posts fake 'output', 'error' and 'done' for the first
      // 50 run ids (its own and the next cells' among them), now and whenever it hears something.
      const spy = [
        'const g = self as any;',
        "const fake = () => { for (let id = 1; id <= 50; id++) { g.postMessage({ type: 'output', id, item: { kind: 'log', level: 'log', text: 'FAKE output' } }); g.postMessage({ type: 'error', id, name: 'FakeError', message: 'FAKE error' }); g.postMessage({ type: 'done', id, ms: 1, newTensors: 0, numTensors: 0 }); } };",
        "self.addEventListener('message', (e: MessageEvent) => { g.__seen = (g.__seen ?? '') + JSON.stringify(e.data); fake(); });",
        "self.onmessage = (e: MessageEvent) => { g.__seen2 = JSON.stringify(e.data); };",
        // It also replaces the shared console.log to reach the next cell's function through `caller` and the stack.
        'const log = console.log;',
        'const hook = function (...args) {',
        '  const fn = (hook as any).caller;',
        '  if (fn && g.__armed && !g.__fn) {',
        '    g.__fn = fn;',
        '    g.__caller = String(fn);',
        '    const prepare = (Error as any).prepareStackTrace;',
        "    (Error as any).prepareStackTrace = (_e, sites) => sites.map((site) => String(site.getFunction())).join(' | ');",
        '    g.__stack = new Error().stack;',
        '    (Error as any).prepareStackTrace = prepare;',
        '  }',
        '  return log.apply(this, args);',
        '};',
        'console.log = hook;',
        'fake();',
        'await sleep(300);',
        "console.log('spy ready');",
        'g.__armed = true;',
      ].join('\n');
      await setCode(page, 'alpha-bar', spy);
      await runAndWait(page, 'alpha-bar');
      expect(await output(page, 'alpha-bar')).toContain('spy ready');
      expect(await output(page, 'alpha-bar')).not.toContain('FAKE');
      expect(await page.locator(`${cell('alpha-bar')} [data-testid="leftovers"]`).innerText()).toContain('This cell left 2 event listeners running');

      // The next cell carries a secret in its code; it runs to its real end.
      await setCode(page, 'scratch', "const secret = 'SECRET-' + 'CODE';\nawait sleep(300);\nconsole.log('real end');");
      await runAndWait(page, 'scratch');
      expect(await output(page, 'scratch')).toContain('real end');
      expect(await output(page, 'scratch')).not.toContain('FAKE');
      // What the spy heard: nothing.
      await setCode(page, 'scratch', "const g = self as any;\nconsole.log('heard:', String(g.__seen ?? 'nothing'), String(g.__seen2 ?? 'nothing'))");
      await runAndWait(page, 'scratch');
      expect(await output(page, 'scratch')).toContain('heard: nothing nothing');
      expect(await output(page, 'scratch')).not.toContain('SECRET');
      // Nor through the function it reached: its source reads as a placeholder, and it does not run again.
      const probe = [
        'const g = self as any;',
        "console.info('caller:', g.__caller);",
        "console.info('stack:', g.__stack);",
        'const spied: string[] = [];',
        "const spy = new Proxy({}, { has: () => true, get: (_t, k) => (k === Symbol.unscopables ? undefined : (...a) => spied.push(String(k), ...a.map(String))), set: (_t, k, v) => (spied.push(String(k), String(v)), true) });",
        "try { await g.__fn?.(spy); } catch (e) { spied.push('threw ' + e); }",
        "console.info('spied:', spied.length ? spied.join(',') : 'nothing');",
      ].join('\n');
      await setCode(page, 'scratch', probe);
      await runAndWait(page, 'scratch');
      const probed = await output(page, 'scratch');
      expect(probed).toContain('caller: function () { [code of a notebook cell] }');
      expect(probed).toContain('spied: nothing');
      expect(probed).toMatch(/stack: .*\[code of a notebook cell\]/);
      expect(probed).not.toContain('SECRET');
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says which timers a cell left running, shows their output under it, stops them on request and holds them to the time limit', async () => {
    const { context, page, problems } = await openPage(site);
    const kernelText = () => page.locator(`${cell('scratch')} .kernel`).innerText();
    try {
      await page.goto(site.url + PAGE + '#scratch');
      await setCode(page, 'scratch', "var ticks = 0;\nsetInterval(() => { ticks++; if (ticks <= 3) console.log('tick', ticks); }, 100);\nsetTimeout(() => console.log('never'), 600_000);\nsleep(600_000);\n'started'");
      await runAndWait(page, 'scratch');
      expect(await page.locator(`${cell('scratch')} [data-testid="leftovers"]`).innerText()).toContain('This cell left 3 timers running');
      expect(await kernelText()).toMatch(/ready.*3 timers left running by cells/);
      // The interval's output still arrives under the cell that made it.
      await expect.poll(() => output(page, 'scratch'), { timeout: 30_000 }).toContain('tick 3');
      await page.locator(`${cell('scratch')} button`, { hasText: 'Stop them' }).click();
      await page.locator(`${cell('scratch')} [data-testid="leftovers"]`).waitFor({ state: 'detached', timeout: 10_000 });
      await expect.poll(kernelText).not.toMatch(/left running/);
      // Stopped for real: `ticks` no longer moves (read from another cell, so no re-run stops anything).
      await setCode(page, 'alpha-bar', 'const before = ticks;\nawait sleep(500);\nconsole.log(`moved by ${ticks - before}`)');
      await runAndWait(page, 'alpha-bar');
      expect(await output(page, 'alpha-bar')).toContain('moved by 0');

      // Running a cell again stops the timers its previous run left, so intervals do not pile up.
      await setCode(page, 'scratch', 'var again = 0;\nsetInterval(() => again++, 50);\n"first"');
      await runAndWait(page, 'scratch');
      await page.locator(`${cell('scratch')} [data-testid="leftovers"]`).waitFor();
      await setCode(page, 'scratch', '"second"');
      await runAndWait(page, 'scratch');
      expect(await page.locator(`${cell('scratch')} [data-testid="leftovers"]`).count()).toBe(0);
      await setCode(page, 'alpha-bar', 'const from = again;\nawait sleep(500);\nconsole.log(`again moved by ${again - from}`)');
      await runAndWait(page, 'alpha-bar');
      expect(await output(page, 'alpha-bar')).toContain('again moved by 0');

      // A leftover timer that never returns is stopped by the cell's time limit, which names the cell.
      await setCode(page, 'scratch', "setTimeout(() => { for (;;) {} }, 100);\n'armed'");
      await runAndWait(page, 'scratch');
      const stopped = page.locator(`${cell('scratch')} [data-testid="leftover-stopped"]`);
      await stopped.waitFor({ timeout: 60_000 });
      expect(await stopped.innerText()).toContain('a timer that “Scratch cell” left ran past the 30 s limit');
      expect(await kernelText()).toContain('Kernel: not running');
      expect(await page.evaluate(() => 6 * 7)).toBe(42);
      // The next Run starts a fresh kernel.
      await setCode(page, 'scratch', '2 + 2');
      await runAndWait(page, 'scratch');
      expect(await output(page, 'scratch')).toContain('4');
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('refuses to draw a 12000 × 12000 tensor without a long task, and thins long series to 5,000 points', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + PAGE + '#scratch');
      await setCode(page, 'scratch', "const big = tf.fill([1, 12000, 12000, 1], 0.5);\nshow(big);\nbig.dispose();\nconsole.log('after show')");
      await watchLongTasks(page);
      await runAndWait(page, 'scratch');
      const text = await output(page, 'scratch');
      expect(text).toMatch(/not drawn: an image of 12,000 × 12,000 \(shape \[1, 12000, 12000, 1\]\) is larger than/);
      expect(text).toContain('tf.image.resizeBilinear');
      expect(text).toContain('after show');
      expect(await page.locator(`${cell('scratch')} canvas`).count()).toBe(0);
      const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
      expect(longTasks.filter((d) => d > 200)).toEqual([]);

      // Two million numbers from a plain array, and a million-long tensor: each one plot of at most 5,000 points.
      await setCode(page, 'scratch', 'show(Array.from({ length: 2_000_000 }, (_, i) => Math.sin(i / 1000)));\nconst line = tf.linspace(0, 1, 1_000_000);\nshow(line);\nline.dispose();');
      await runAndWait(page, 'scratch');
      const plots = page.locator(`${cell('scratch')} .nb-plot svg`);
      expect(await plots.count()).toBe(2);
      for (let i = 0; i < 2; i++) {
        const points = Number(/y: (\d+) points/.exec((await plots.nth(i).getAttribute('aria-label')) ?? '')?.[1]);
        expect(points).toBeGreaterThan(1000);
        expect(points).toBeLessThanOrEqual(5000);
      }
      expect(await output(page, 'scratch')).toContain('2,000,000 points thinned to at most 5,000');
      expect(await output(page, 'scratch')).toContain('1,000,000 points thinned to at most 5,000');
      expect(await output(page, 'scratch')).toContain('No tensors left behind');
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('stops a cell that piles up tensors at 1 GiB with an error at its line, and Restart frees them', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + PAGE + '#scratch');
      await setCode(page, 'scratch', 'const a = [];\nfor (;;) a.push(tf.zeros([1024, 1024]));');
      await runAndWait(page, 'scratch', 'error');
      const error = await page.locator(`${cell('scratch')} [data-testid="error"]`).innerText();
      expect(error).toMatch(/RangeError on line 2/);
      expect(error).toContain('more than the 1 GiB the kernel allows');
      expect(error).toContain('a.push(tf.zeros([1024, 1024]))');
      // The kernel still works, and Restart frees what the cell holds.
      await setCode(page, 'scratch', 'a.length');
      await runAndWait(page, 'scratch');
      expect(Number((await output(page, 'scratch')).match(/^(\d+)/m)?.[1])).toBeGreaterThanOrEqual(255);
      await page.locator(`${cell('scratch')} button`, { hasText: 'Restart kernel' }).click();
      await expect.poll(() => output(page, 'scratch')).toMatch(/Kernel restarted: freed 2\d\d tensors/);
      await setCode(page, 'scratch', 'typeof a');
      await runAndWait(page, 'scratch');
      expect(await output(page, 'scratch')).toMatch(/^undefined$/m);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('runs the course cells: a noised digit, the ε-loss curve and a 10-step DDIM grid from the shipped model', async () => {
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      await page.goto(site.url + PAGE);
      await runAndWait(page, 'noise-digit');
      expect(await page.locator(`${cell('noise-digit')} canvas`).getAttribute('aria-label')).toMatch(/^7 images of 28×28/);
      // ᾱ_500 of the linear schedule (β from 1e-4 to 0.02 over T = 1000), in float64, independently of the core.
      let alphaBar = 1;
      for (let t = 1; t <= 500; t++) alphaBar *= 1 - (1e-4 + ((0.02 - 1e-4) * (t - 1)) / 999);
      expect(await output(page, 'noise-digit')).toContain(`t = 500: signal √ᾱ = ${Math.sqrt(alphaBar).toFixed(5)}, noise √(1−ᾱ) = ${Math.sqrt(1 - alphaBar).toFixed(5)}`);
      expect(await output(page, 'noise-digit')).toContain('No tensors left behind');

      await runAndWait(page, 'eps-loss');
      expect(await page.locator(`${cell('eps-loss')} .nb-plot path.series`).count()).toBe(1);
      expect(await output(page, 'eps-loss')).toMatch(/mean over these t: 0\.\d+/);
      expect(await output(page, 'eps-loss')).toContain('No tensors left behind');

      await runAndWait(page, 'ddim-10');
      expect(await output(page, 'ddim-10')).toMatch(/DDIM visited t = (\d+ → ){9}\d+/);
      expect(await page.locator(`${cell('ddim-10')} canvas`).getAttribute('aria-label')).toMatch(/^10 images of 28×28/);
      expect(await output(page, 'ddim-10')).toContain('No tensors left behind');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.locator(cell('ddim-10')).screenshot({ path: screenshotPath('notebook-ddim-390') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
