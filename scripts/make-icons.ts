/**
 * The web manifest's PNG icons, drawn from public/favicon.svg by the local headless Chromium (no network):
 * public/icons/icon-192.png, icon-512.png and a maskable 512 (the mark on a full-bleed background, inside the
 * 80 % safe zone). Run after changing the favicon: `node --import tsx scripts/make-icons.ts`.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, ROOT } from '../tests/e2e/harness';

const svg = readFileSync(join(ROOT, 'public', 'favicon.svg'), 'utf8');
const out = join(ROOT, 'public', 'icons');
mkdirSync(out, { recursive: true });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  for (const [name, size, maskable] of [['icon-192.png', 192, false], ['icon-512.png', 512, false], ['icon-maskable-512.png', 512, true]] as const) {
    await page.setViewportSize({ width: size, height: size });
    const inner = maskable ? Math.round(size * 0.8) : size;
    await page.setContent(
      `<html><body style="margin:0;background:${maskable ? '#3b4cca' : 'transparent'};display:grid;place-items:center;width:${size}px;height:${size}px">` +
        `<div style="width:${inner}px;height:${inner}px">${svg.replace('<svg ', `<svg width="${inner}" height="${inner}" `)}</div></body></html>`,
    );
    writeFileSync(join(out, name), await page.screenshot({ omitBackground: !maskable, type: 'png' }));
    console.log(`public/icons/${name}: ${size} × ${size}`);
  }
} finally {
  await browser.close();
}
