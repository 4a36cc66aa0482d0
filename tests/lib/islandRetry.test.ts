import { describe, expect, it } from 'vitest';
import { islandScripts, namesScript, noticeText, withRetryQuery } from '../../src/lib/islandRetry';

/** An element with these attributes (islandScripts reads nothing else). */
const island = (attrs: Record<string, string>) => ({ getAttribute: (name: string) => attrs[name] ?? null }) as unknown as Element;

describe('islandScripts', () => {
  it('lists the component and renderer modules as absolute URLs, resolved against the page', () => {
    const el = island({ 'component-url': '/_astro/ScheduleLab.CYc.js', 'renderer-url': '/_astro/client.svelte.Bf.js', 'before-hydration-url': '/x.js' });
    expect(islandScripts(el, 'http://127.0.0.1:4321/lessons/03/')).toEqual([
      'http://127.0.0.1:4321/_astro/ScheduleLab.CYc.js',
      'http://127.0.0.1:4321/_astro/client.svelte.Bf.js',
    ]);
  });

  it('leaves out a renderer the island does not have', () => {
    expect(islandScripts(island({ 'component-url': '/base/_astro/A.js' }), 'https://example.org/base/')).toEqual(['https://example.org/base/_astro/A.js']);
  });
});

describe('withRetryQuery', () => {
  it('adds retry=n, and replaces an earlier one instead of adding a second', () => {
    expect(withRetryQuery('http://h/_astro/A.js', 1)).toBe('http://h/_astro/A.js?retry=1');
    expect(withRetryQuery('http://h/_astro/A.js?retry=1', 2)).toBe('http://h/_astro/A.js?retry=2');
    expect(withRetryQuery('http://h/_astro/A.js?v=3', 4)).toBe('http://h/_astro/A.js?v=3&retry=4');
  });
});

describe('namesScript', () => {
  const urls = new Set(['http://h/_astro/A.js', 'http://h/_astro/client.svelte.js']);
  it('knows a failed import of an island module from the URL its message names (Chromium and Firefox wording)', () => {
    expect(namesScript(new TypeError('Failed to fetch dynamically imported module: http://h/_astro/A.js'), urls)).toBe(true);
    expect(namesScript(new TypeError('error loading dynamically imported module: http://h/_astro/client.svelte.js'), urls)).toBe(true);
  });
  it('leaves every other rejection alone', () => {
    expect(namesScript(new TypeError('Failed to fetch dynamically imported module: http://h/_astro/cellEditor.js'), urls)).toBe(false);
    expect(namesScript(new TypeError('Importing a module script failed.'), urls)).toBe(false);
    expect(namesScript(undefined, urls)).toBe(false);
    expect(namesScript({ message: 'http://h/_astro/A.js' }, urls)).toBe(false);
  });
});

describe('noticeText', () => {
  it('says what happened, and after another failed try what the reader can do', () => {
    expect(noticeText('figure', false)).toBe('This figure’s script could not be loaded, so it shows a still preview.');
    expect(noticeText('code cell', true)).toMatch(/^This code cell’s script still could not be loaded\. Check your connection and try again; .*back online\.$/);
  });
});
