import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { memory, openPage, ready, request, screenshotPath, type LabWindow } from './harness';
import { useSite } from './useSite';

const site = useSite();

const LAB = '[data-widget="training-lab"]';
// The tiny model at batch 8 on wasm: small enough for headless Chromium on a shared 2-core machine.
const PAGE = '/widgets/?backend=wasm&lab.batch=8#training-lab';

/** Lesson 7, where the sampler race lives, with a tiny race of the model trained in the lab. */
const paths7 = () => '/lessons/07-sampling-ddpm-ddim/?backend=wasm&race.model=trained&race.count=1&race.nfe=5&race.ddpm=0';

const step = async (page: Page) => Number(await page.locator(LAB).getAttribute('data-step'));

async function openLab(page: Page, path = PAGE) {
  await page.goto(site.url + path);
  await ready(page, LAB, 120_000);
}

/** A fixed probe batch: two held-out-like images (a bar and a ring) at t = 300. */
const probe = () => {
  const x = new Float32Array(2 * 784).fill(-1);
  for (let i = 0; i < 784; i++) {
    const r = Math.hypot((i % 28) - 13.5, Math.floor(i / 28) - 13.5);
    if (Math.abs((i % 28) - 14) < 2) x[i] = 1;
    if (Math.abs(r - 8) < 1.5) x[784 + i] = 1;
  }
  return Array.from(x);
};
const predict = async (page: Page) => {
  const r = await page.evaluate(async (xs) => {
    const out = await (window as unknown as LabWindow).diffusionLab.request('lab.predict', { x: new Float32Array(xs), t: 300 });
    return Array.from(out.eps as Float32Array);
  }, probe());
  return r as number[];
};


type Training = { step: number; lossHistory: unknown; settings: Record<string, unknown>; savedAt: string };
type Header = { userDefinedMetadata: { training: Training; config: Record<string, unknown> } } & Record<string, unknown>;

/** A checkpoint file (DLCK | version | JSON length | JSON | weights) with its JSON header changed by `edit`. */
function editCheckpoint(bytes: Buffer, edit: (header: Header) => void): Buffer {
  const jsonLength = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.subarray(12, 12 + jsonLength).toString('utf8')) as Header;
  edit(header);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(12);
  bytes.copy(head, 0, 0, 8);
  head.writeUInt32LE(json.length, 8);
  return Buffer.concat([head, json, bytes.subarray(12 + jsonLength)]);
}

/** `n` (step, loss) readings every 5 steps, a slowly falling loss with noise: what a long run records. */
const longHistory = (n: number): [number, number][] => Array.from({ length: n }, (_, i) => [5 * (i + 1), 0.05 + 0.5 / (1 + i / 500) + 0.01 * Math.sin(i * 7.3)]);

/** The lab's checkpoint of a freshly created tiny model, as file bytes. */
async function freshCheckpoint(page: Page): Promise<Buffer> {
  await request(page, 'lab.create', { size: 'tiny', batchSize: 8, lr: 0.001, schedule: 'cosine', seed: 3 });
  const bytes = await page.evaluate(async () => {
    const ck = await (window as unknown as LabWindow).diffusionLab.request('lab.checkpoint', null);
    return Array.from(ck.bytes as Uint8Array);
  });
  await request(page, 'lab.reset', null);
  return Buffer.from(bytes as number[]);
}

/** Long main-thread tasks (≥ 50 ms, the Long Tasks API's threshold) recorded from now on, in `window.__longTasks`. */
async function watchLongTasks(page: Page): Promise<() => Promise<number[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { __longTasks: number[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push(Math.round(e.duration));
    }).observe({ type: 'longtask' });
  });
  return () => page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks.slice());
}

describe('the training lab', () => {
  it('lowers the loss over 30 steps, updates the chart, and pauses and resumes', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await openLab(page);
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect.poll(() => step(page), { timeout: 180_000, interval: 500 }).toBeGreaterThanOrEqual(30);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      const paused = await step(page);
      await page.waitForTimeout(1500);
      expect(await step(page)).toBe(paused);

      const readings = await page.locator(`${LAB} .loss-chart path.raw`).getAttribute('d');
      expect(readings?.length ?? 0).toBeGreaterThan(20);
      const history = (await request(page, 'lab.checkpoint', null)) as { step: number };
      expect(history.step).toBe(paused);
      const info = await request(page, 'lab.info', null);
      const losses = (info.lossHistory as [number, number][]).map(([, l]) => l);
      expect(losses.length).toBeGreaterThanOrEqual(6);
      const first = losses.slice(0, 2).reduce((a, b) => a + b) / 2;
      const last = losses.slice(-2).reduce((a, b) => a + b) / 2;
      expect(last).toBeLessThan(first * 0.8);

      await page.getByRole('button', { name: 'Resume' }).click();
      await expect.poll(() => step(page), { timeout: 120_000, interval: 500 }).toBeGreaterThan(paused);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.screenshot({ path: screenshotPath('widget-training-lab'), fullPage: false });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('saves to IndexedDB and, after a reload, restores the same weights', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await openLab(page);
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect.poll(() => step(page), { timeout: 120_000, interval: 300 }).toBeGreaterThanOrEqual(5);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      const trained = await predict(page);
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await expect.poll(() => page.locator(`${LAB} .notice`).textContent()).toMatch(/Saved the model at step/);

      await page.reload();
      await openLab(page);
      await page.getByRole('button', { name: /^Restore/ }).click();
      await page.waitForSelector(`${LAB}[data-phase="paused"]`, { timeout: 60_000 });
      const restored = await predict(page);
      expect(restored.length).toBe(trained.length);
      const maxDiff = Math.max(...restored.map((v, i) => Math.abs(v - trained[i])));
      expect(maxDiff).toBeLessThan(1e-5);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('keeps the worker tensor count flat over 200 steps after warm-up', async () => {
    const { context, page } = await openPage(site);
    try {
      await openLab(page);
      await request(page, 'lab.create', { size: 'tiny', batchSize: 8, lr: 0.001, schedule: 'cosine', seed: 2 });
      await request(page, 'lab.run', { maxSteps: 10, sampleEvery: 100 });
      const before = await memory(page);
      const info = await request(page, 'lab.run', { maxSteps: 200, sampleEvery: 100, lossEvery: 5 });
      const after = await memory(page);
      expect(info.step).toBe(210);
      expect(after.backend).toBe('wasm');
      expect(after.numTensors).toBe(before.numTensors);
    } finally {
      await context.close();
    }
  });

  // Device loss and resuming on the next backend: tests/workers/lab.test.ts injects the fault through the
  // controller's test-only hook (the page offers no way to break its own backend).

  it('pauses when the tab is hidden', async () => {
    const { context, page } = await openPage(site);
    try {
      await openLab(page);
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect.poll(() => step(page), { timeout: 120_000, interval: 300 }).toBeGreaterThan(0);
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      expect(await page.locator(`${LAB} .notice`).textContent()).toMatch(/tab was hidden/);
    } finally {
      await context.close();
    }
  });

  it('still trains without IndexedDB and says why it cannot save', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.addInitScript(() => Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true }));
      await openLab(page);
      await expect.poll(() => page.locator(`${LAB} .hint`).first().textContent()).toMatch(/Saving is off: this browser has no IndexedDB/);
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect.poll(() => step(page), { timeout: 120_000, interval: 300 }).toBeGreaterThan(0);
      const save = page.getByRole('button', { name: 'Save', exact: true });
      expect(await save.isDisabled()).toBe(true);
      expect(await save.getAttribute('title')).toMatch(/IndexedDB/);
      await page.getByRole('button', { name: 'Pause' }).click();
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('refuses an imported file that is not a checkpoint, with a clear message', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await openLab(page);
      await page.locator(`${LAB} input[type="file"]`).setInputFiles({ name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a checkpoint at all') });
      await expect.poll(() => page.locator(`${LAB} .error`).textContent()).toMatch(/holiday\.jpg is not a valid Diffusion Lab checkpoint/);
      expect(await page.locator(LAB).getAttribute('data-phase')).toBe('idle');
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
  it('imports hostile checkpoints: each is refused naming the field or cleaned, and the lab trains afterwards', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await openLab(page);
      const good = await freshCheckpoint(page);
      const input = page.locator(`${LAB} input[type="file"]`);
      const cases: { name: string; edit: (h: Header) => void; error?: RegExp }[] = [
        { name: 'shape.dlck', edit: (h) => (h.userDefinedMetadata.config.inputShape = [256, 256, 1]), error: /shape\.dlck .*inputShape must be \[28, 28, 1\]/ },
        { name: 'history-null.dlck', edit: (h) => (h.userDefinedMetadata.training.lossHistory = null), error: /history-null\.dlck .*"lossHistory" must be an array/ },
        { name: 'history-nan.dlck', edit: (h) => Object.assign(h.userDefinedMetadata.training, { step: 10, lossHistory: [[5, 0.3], [10, 'x']] }), error: /"lossHistory" entry 1/ },
        { name: 'step.dlck', edit: (h) => (h.userDefinedMetadata.training.step = 1e300), error: /"step" must be an integer/ },
        { name: 'settings.dlck', edit: (h) => (h.userDefinedMetadata.training.settings = 'fast' as never), error: /"settings" must be an object/ },
        // accepted, cleaned by the lab's own declaration: a batch of 5000 would need gigabytes in the worker
        { name: 'huge.dlck', edit: (h) => Object.assign(h.userDefinedMetadata.training.settings, { batchSize: 5000, lr: 1e9, seed: 1e300 }) },
      ];
      for (const c of cases) {
        await input.setInputFiles({ name: c.name, mimeType: 'application/octet-stream', buffer: editCheckpoint(good, c.edit) });
        if (c.error) {
          await expect.poll(() => page.locator(`${LAB} .error`).textContent(), { timeout: 60_000 }).toMatch(c.error);
          expect(await page.locator(LAB).getAttribute('data-phase')).not.toBe('running');
        } else {
          await page.waitForSelector(`${LAB}[data-phase="paused"]`, { timeout: 60_000 });
        }
      }
      const info = await request(page, 'lab.info', null);
      const settings = info.settings as { batchSize: number; lr: number; seed: number };
      expect(settings.batchSize).toBeLessThanOrEqual(64);
      expect(settings.lr).toBeLessThanOrEqual(0.01);
      expect(settings.seed).toBeLessThan(1e6);
      // the lab still trains from the cleaned file
      const from = await step(page);
      await page.getByRole('button', { name: 'Resume' }).click();
      await expect.poll(() => step(page), { timeout: 120_000, interval: 300 }).toBeGreaterThan(from);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('restores a 100,000-point loss history and redraws the chart on every update without a main-thread task of 50 ms or more', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await openLab(page);
      const good = await freshCheckpoint(page);
      const history = longHistory(100_000);
      const file = editCheckpoint(good, (h) => {
        h.userDefinedMetadata.training.lossHistory = history;
        h.userDefinedMetadata.training.step = history.at(-1)![0];
      });
      await page.locator(`${LAB} input[type="file"]`).setInputFiles({ name: 'long.dlck', mimeType: 'application/octet-stream', buffer: file });
      await page.waitForSelector(`${LAB}[data-phase="paused"]`, { timeout: 120_000 });
      expect(await step(page)).toBe(500_000);
      const drawn = await page.locator(`${LAB} .loss-chart path.raw`).getAttribute('d');
      // at most 2,000 drawn points per path: one M/L command each
      expect((drawn ?? '').match(/[ML]/g)?.length ?? 0).toBeLessThanOrEqual(2000);
      expect((drawn ?? '').match(/[ML]/g)?.length ?? 0).toBeGreaterThan(1000);

      const longTasks = await watchLongTasks(page);
      await page.getByRole('button', { name: 'Resume' }).click();
      // 12 progress reports (one every 5 steps), each appended to the 20,000 kept readings and redrawn
      await expect.poll(() => step(page), { timeout: 180_000, interval: 300 }).toBeGreaterThanOrEqual(500_060);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      expect(await longTasks()).toEqual([]);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
  it('offers the model saved here to the sampler race on another page, and says what to do when none is saved', async () => {
    const { context, page, problems } = await openPage(site);
    const RACE = '[data-widget="sampler-race"]';
    const racePage = paths7();
    try {
      // no model anywhere yet: the race says how to get one
      await page.goto(site.url + racePage);
      await ready(page, RACE);
      await page.locator(RACE).getByRole('button', { name: /start the race/i }).click();
      await expect.poll(() => page.locator(`${RACE} .error`).textContent(), { timeout: 60_000 }).toMatch(/none is saved in this browser.*press Save/);

      await openLab(page);
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect.poll(() => step(page), { timeout: 120_000, interval: 300 }).toBeGreaterThanOrEqual(5);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await expect.poll(() => page.locator(`${LAB} .notice`).textContent()).toMatch(/Saved the model at step/);

      // another page, another worker: the race runs the saved model
      await page.goto(site.url + racePage);
      await ready(page, RACE);
      await page.locator(RACE).getByRole('button', { name: /start the race/i }).click();
      await page.waitForSelector(`${RACE} [data-lane="ddim"][data-done="true"]`, { timeout: 180_000 });
      expect(await page.locator(`${RACE} .error`).count()).toBe(0);
      const info = await request(page, 'lab.info', null);
      expect(info.step).toBeGreaterThanOrEqual(5);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
