/** Notebook cells in the e2e tests: find one, wait for its island, replace its code through the editor. */
import type { Page } from 'playwright-core';

export const cell = (id: string) => `[data-cell="${id}"]`;

/** Scroll a cell into view and wait until its island has hydrated (clicks before that do nothing). */
export async function hydrated(page: Page, id: string) {
  await page.locator(cell(id)).scrollIntoViewIfNeeded();
  await page.locator(`${cell(id)}[data-hydrated="true"]`).waitFor({ timeout: 60_000 });
}

/** Replace a cell's code: focus it (loads the editor), select all, insert text (no auto-closing brackets). */
export async function setCode(page: Page, id: string, code: string) {
  await hydrated(page, id);
  if (await page.locator(`${cell(id)} .static`).isVisible()) await page.locator(`${cell(id)} .static`).click();
  const content = page.locator(`${cell(id)} .cm-content`);
  await content.waitFor({ timeout: 60_000 });
  await content.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(code);
}

/** Start recording the page's long tasks (their durations in ms) in `window.longTasks`, from now on. */
export async function watchLongTasks(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask' });
  });
}
