/**
 * The site's Content-Security-Policy and isolation headers, declared once for the Astro config (which emits the
 * policy as a <meta> with the hashes of every script and stylesheet it builds), the servers (`npm start`, the test
 * server: `scripts/siteHeaders.ts`), the service worker and the tests. No Node and no DOM here.
 *
 * script-src and style-src are Astro's: it lists 'self' plus the hashes it computes; we add the sources below.
 */
import { KERNEL_FRAME_HEADERS, KERNEL_FRAME_PATH } from './kernelFramePolicy';

/** Script sources besides Astro's hashes: the site's own files, and wasm compilation for the wasm backend. */
export const SCRIPT_SOURCES = ["'self'", "'wasm-unsafe-eval'"] as const;

/** Stylesheet and <style> sources besides Astro's hashes. */
export const STYLE_SOURCES = ["'self'"] as const;

/**
 * Styles are allowed inline, elements and attributes alike, because hashes cannot cover what the site uses:
 * CodeMirror 6 (the notebook's editor) writes its themes into a <style> element at run time (its style-mod only uses
 * constructed stylesheets inside shadow roots); KaTeX's HTML (struts, vertical lists), Shiki's highlighted code
 * (its colours) and Svelte's `style:` directives are style="…" attributes with computed values, which a hash can
 * only cover through 'unsafe-hashes' and a fixed value. A page never renders text from elsewhere as HTML, and
 * the fetch directives keep any url() in a style on the site (or data:), so inline styles load and send nothing elsewhere.
 * (Astro still lists its stylesheets' hashes under style-src; with these two directives present they are unused.)
 */
export const STYLE_ELEM_DIRECTIVE = "style-src-elem 'self' 'unsafe-inline'";
export const STYLE_ATTR_DIRECTIVE = "style-src-attr 'unsafe-inline'";

/** Every directive of the page policy except script-src and style-src (Astro's, see above). */
export const PAGE_DIRECTIVES = [
  "default-src 'self'",
  STYLE_ELEM_DIRECTIVE,
  STYLE_ATTR_DIRECTIVE,
  "connect-src 'self'",
  // The compute worker and the notebook kernel's worker are files of the site; no page creates a blob: worker.
  "worker-src 'self'",
  // Digits and charts are PNG data: URLs; a saved checkpoint is a blob: download.
  "img-src 'self' data: blob:",
  // One KaTeX face is small enough for Vite to inline as a data: URL.
  "font-src 'self' data:",
  "media-src 'self'",
  "manifest-src 'self'",
  // The only frame a page shows is the notebook kernel's (KERNEL_FRAME_PATH), which is of the site.
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
] as const;

/**
 * Inline scripts, allowed by hash: each file is rendered verbatim in a <script is:inline> (imported `?raw`) and
 * hashed by the Astro config from the same file. Paths are relative to the repository root.
 */
export const INLINE_SCRIPT_FILES = ['src/layouts/theme.inline.js', 'src/components/ThemeToggle.inline.js'] as const;

/** Pages under this path show one widget for other sites to embed in an iframe. */
export const EMBED_PATH = '/embed/';

/**
 * frame-ancestors only works in a header (a <meta> policy ignores it): embed pages may be framed by any site,
 * every other page only by the site itself.
 */
export const frameAncestors = (pathname: string): string =>
  isEmbedPath(pathname) ? 'frame-ancestors *' : "frame-ancestors 'self'";

export const isEmbedPath = (pathname: string): boolean => pathname.startsWith(EMBED_PATH) && pathname !== EMBED_PATH;

export const isKernelFramePath = (pathname: string): boolean =>
  pathname === KERNEL_FRAME_PATH || pathname === KERNEL_FRAME_PATH.replace(/\/$/, '') || pathname === `${KERNEL_FRAME_PATH}index.html`;

/** Cross-origin isolation (SharedArrayBuffer, so wasm threads can run): on every response we serve. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The headers for one response of the site. `pageCsp` is the policy of the page being served (its <meta>, with
 * Astro's hashes) when the response is a page; the kernel frame never gets it, only KERNEL_FRAME_HEADERS.
 */
export function headersFor(pathname: string, pageCsp?: string): Record<string, string> {
  if (isKernelFramePath(pathname)) {
    return { ...ISOLATION_HEADERS, 'Cross-Origin-Resource-Policy': 'same-origin', ...KERNEL_FRAME_HEADERS };
  }
  const headers: Record<string, string> = {
    ...ISOLATION_HEADERS,
    // An embed page is framed by other sites, whose own require-corp would otherwise refuse it.
    'Cross-Origin-Resource-Policy': isEmbedPath(pathname) ? 'cross-origin' : 'same-origin',
  };
  if (pageCsp !== undefined) headers['Content-Security-Policy'] = `${pageCsp.trim().replace(/;\s*$/, '')}; ${frameAncestors(pathname)}`;
  return headers;
}

/** A policy as a map from directive name to its sources (for comparing a header with a <meta>). */
export function parsePolicy(policy: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/).filter(Boolean);
    if (name && !out.has(name.toLowerCase())) out.set(name.toLowerCase(), sources);
  }
  return out;
}

/** The content of a page's <meta http-equiv="content-security-policy">, or undefined (HTML entities decoded). */
export function metaPolicy(html: string): string | undefined {
  for (const tag of html.match(/<meta\b[^>]*>/gi) ?? []) {
    if (!/http-equiv\s*=\s*["']?content-security-policy/i.test(tag)) continue;
    const content = /content\s*=\s*"([^"]*)"/i.exec(tag)?.[1] ?? /content\s*=\s*'([^']*)'/i.exec(tag)?.[1];
    if (content === undefined) continue;
    return content
      .replace(/&#39;|&#x27;|&apos;/g, "'")
      .replace(/&quot;|&#34;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  }
  return undefined;
}
