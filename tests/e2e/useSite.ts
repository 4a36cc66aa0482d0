/** The per-file set-up of the end-to-end tests: one served build and one Chromium for all tests of a file. */
import { afterAll, beforeAll } from 'vitest';
import { openSite, type Site } from './harness';

/** Open the site before this file's tests and close it after them; read `url` and `browser` inside a test. */
export function useSite(): Site {
  let site: Site | undefined;
  beforeAll(async () => {
    site = await openSite();
  });
  afterAll(async () => {
    await site?.close();
  });
  const open = (): Site => {
    if (!site) throw new Error('the site opens in beforeAll: use it inside a test');
    return site;
  };
  return {
    get url() {
      return open().url;
    },
    get browser() {
      return open().browser;
    },
    close: async () => site?.close(),
  };
}
