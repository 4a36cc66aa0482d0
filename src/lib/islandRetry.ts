/**
 * A widget whose script failed to load says so and tries again.
 *
 * Every widget is an Astro island (`<astro-island client="visible" ssr>`). When it nears the viewport, Astro's
 * `visible` directive imports the island's component and renderer modules and hydrates it, which removes `ssr`.
 * Astro 5 does not catch a failed import there (the directive's callback is not awaited), so an island whose
 * script did not arrive keeps its server-rendered preview for good and the page only gets an unhandled rejection.
 *
 * `watchIslands()` (BaseLayout) watches every island with an IntersectionObserver of its own. It is created after
 * Astro's, so it is notified in the same task, right after Astro started the island's imports, and imports the same
 * module URLs: the browser keeps one module-map entry per URL, so this import settles exactly as the island's does.
 * A failed island gets a notice inside its frame with a Try again button. Pressing it, or the window's `online`
 * event, imports the modules again — with a `retry=n` query when the plain URL fails again, for browsers that
 * remember a failed module fetch — and once they load replaces the island with a copy of its untouched
 * server-rendered markup: the copy's connectedCallback runs Astro's loading again, now from the module cache.
 * The notice goes with the old element, and the page's other failed islands try again too.
 */

/** On an island whose script failed to load (tests and styles read it). */
export const FAILED_ATTR = 'data-script-failed';
const NOTICE_CLASS = 'island-retry';

/** The module URLs an island imports before it hydrates: its component and its framework's renderer. */
export function islandScripts(island: Element, base: string): string[] {
  return ['component-url', 'renderer-url']
    .map((name) => island.getAttribute(name))
    .filter((url): url is string => !!url)
    .map((url) => new URL(url, base).href);
}

/** `url` with a `retry=n` query, so a browser that remembers a failed module fetch fetches it afresh. */
export function withRetryQuery(url: string, n: number): string {
  const u = new URL(url);
  u.searchParams.set('retry', String(n));
  return u.href;
}

/** Whether a rejection's reason is a failed import of one of these module URLs (the message names the URL). */
export function namesScript(reason: unknown, urls: Iterable<string>): boolean {
  const message = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : '';
  if (!message) return false;
  for (const url of urls) if (message.includes(url)) return true;
  return false;
}

/** What the notice says, for a figure or a notebook cell. */
export function noticeText(kind: 'figure' | 'code cell', again: boolean): string {
  return again
    ? `This ${kind}’s script still could not be loaded. Check your connection and try again; it also tries by itself when your browser is back online.`
    : `This ${kind}’s script could not be loaded, so it shows a still preview.`;
}

/** Rendering margin of the island's `visible` directive (`client:visible={{ rootMargin }}`), as Astro reads it. */
function rootMargin(island: Element): string | undefined {
  try {
    const value = JSON.parse(island.getAttribute('opts') ?? '{}')?.value;
    return typeof value === 'object' && value && typeof value.rootMargin === 'string' ? value.rootMargin : undefined;
  } catch {
    return undefined;
  }
}

async function importsOk(urls: readonly string[]): Promise<boolean> {
  try {
    await Promise.all(urls.map((url) => import(/* @vite-ignore */ url)));
    return true;
  } catch {
    return false;
  }
}

let retries = 0;
/** Islands being loaded again (a second press or an `online` event meanwhile does nothing). */
const busy = new WeakSet<Element>();
/** Module URLs of every island seen: a rejection naming one of them is an island's failed load, handled here. */
const known = new Set<string>();

const observers = new Map<string, IntersectionObserver>();

function observer(margin: string | undefined): IntersectionObserver {
  const key = margin ?? '';
  let io = observers.get(key);
  if (!io) {
    io = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          const island = entry.target.closest('astro-island');
          if (!island) continue;
          for (const child of island.children) io!.unobserve(child);
          if (island.hasAttribute('ssr')) void started(island as HTMLElement);
        }
      },
      { rootMargin: margin },
    );
    observers.set(key, io);
  }
  return io;
}

/** Watch one island: when Astro starts loading it, load the same modules and see how that goes. */
function watch(island: HTMLElement): void {
  if (!island.hasAttribute('ssr') || island.getAttribute('client') !== 'visible') return;
  for (const url of islandScripts(island, document.baseURI)) known.add(url);
  const io = observer(rootMargin(island));
  for (const child of island.children) io.observe(child);
}

/**
 * The island has just come into view, so Astro has started importing its modules (or did so before this script
 * ran: then this import shares the pending fetch, finds the loaded module, or fetches afresh a module whose fetch
 * failed, which fails again unless the network came back in between).
 */
async function started(island: HTMLElement): Promise<void> {
  if (!(await importsOk(islandScripts(island, document.baseURI)))) fail(island, false);
}

/** Show the notice inside the island's frame (or update it after another failed try). */
function fail(island: HTMLElement, again: boolean): void {
  island.setAttribute(FAILED_ATTR, '');
  const kind = island.querySelector('[data-cell]') ? 'code cell' : 'figure';
  let notice = island.querySelector<HTMLElement>(`.${NOTICE_CLASS}`);
  if (!notice) {
    const id = `${NOTICE_CLASS}-${island.getAttribute('uid') ?? Math.random().toString(36).slice(2)}`;
    notice = document.createElement('div');
    notice.className = NOTICE_CLASS;
    const text = document.createElement('p');
    text.id = id;
    text.setAttribute('role', 'alert');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Try again';
    button.setAttribute('aria-describedby', id);
    button.addEventListener('click', () => void retry(island));
    notice.append(text, button);
    const frame = island.querySelector('.widget') ?? island.firstElementChild ?? island;
    const head = frame.querySelector(':scope > .widget-head');
    if (head) head.after(notice);
    else frame.prepend(notice);
  }
  notice.querySelector('p')!.textContent = noticeText(kind, again);
  const button = notice.querySelector('button')!;
  button.textContent = 'Try again';
  button.removeAttribute('aria-disabled');
}

/** Load the island's modules again; when they arrive, hydrate it and drop the notice. */
async function retry(island: HTMLElement): Promise<void> {
  if (busy.has(island) || !island.isConnected) return;
  busy.add(island);
  const button = island.querySelector<HTMLButtonElement>(`.${NOTICE_CLASS} button`);
  if (button) {
    button.textContent = 'Loading…';
    button.setAttribute('aria-disabled', 'true');
  }
  const loaded: string[] = [];
  for (const url of islandScripts(island, document.baseURI)) {
    if (await importsOk([url])) loaded.push(url);
    else {
      const fresh = withRetryQuery(url, ++retries);
      if (await importsOk([fresh])) loaded.push(fresh);
      else break;
    }
  }
  busy.delete(island);
  if (loaded.length < islandScripts(island, document.baseURI).length) {
    fail(island, true);
    return;
  }
  rehydrate(island, loaded);
  // The network is evidently back: the other failed islands need not wait for their own press.
  for (const other of document.querySelectorAll<HTMLElement>(`astro-island[${FAILED_ATTR}]`)) void retry(other);
}

/**
 * Replace the island with a copy of its server-rendered markup (without the notice) whose modules are `urls`, all
 * loaded: Astro's connectedCallback hydrates the copy when it is in view. When the reader pressed Try again, focus
 * moves to the figure's frame once it is live (the button has gone with the old element).
 */
function rehydrate(island: HTMLElement, urls: readonly string[]): void {
  const copy = island.cloneNode(true) as HTMLElement;
  copy.querySelector(`.${NOTICE_CLASS}`)?.remove();
  copy.removeAttribute(FAILED_ATTR);
  const [component, renderer] = urls;
  copy.setAttribute('component-url', component);
  if (renderer) copy.setAttribute('renderer-url', renderer);
  if (island.contains(document.activeElement)) {
    copy.addEventListener(
      'astro:hydrate',
      () => {
        if (document.activeElement && document.activeElement !== document.body) return;
        // The frame itself, not a control in it (focusing a notebook cell's code would open its editor).
        const frame = copy.querySelector<HTMLElement>('.widget') ?? copy.firstElementChild;
        if (!(frame instanceof HTMLElement)) return;
        if (!frame.hasAttribute('tabindex')) {
          frame.setAttribute('tabindex', '-1');
          frame.addEventListener('blur', () => frame.removeAttribute('tabindex'), { once: true });
        }
        frame.focus({ preventScroll: true });
      },
      { once: true },
    );
  }
  island.replaceWith(copy);
  watch(copy);
}

/** Watch every island on the page; load failed ones again when the browser is back online. */
export function watchIslands(): void {
  for (const island of document.querySelectorAll<HTMLElement>('astro-island[ssr]')) watch(island);
  window.addEventListener('online', () => {
    for (const island of document.querySelectorAll<HTMLElement>(`astro-island[${FAILED_ATTR}]`)) void retry(island);
  });
  // The island's own rejection: shown in its frame by `fail`, so it need not also reach the console as uncaught.
  window.addEventListener('unhandledrejection', (event) => {
    if (namesScript(event.reason, known)) event.preventDefault();
  });
}
