/**
 * What a failed request means for the reader (framework-free): a file that did not arrive (the network dropped while
 * a model, the data or the wasm backend loaded), a compute worker that stopped and was replaced, or anything else.
 * The first two are worth trying again: the page offers a "Try again" button, and retries a failed load by itself
 * when the browser comes back online (src/widgets/lib/compute.svelte.ts).
 */

export type FailureKind = 'load' | 'worker' | 'other';

export interface Failure {
  kind: FailureKind;
  /** The sentence the widget shows. */
  message: string;
}

/** HTTP statuses that may pass on their own (no response at all, a timeout, too many requests, a server error). */
const PASSING_STATUS = /^(0|408|429|5\d\d)$/;

/** The path of a URL on its site ('models/latent-mnist/model.json'); the text itself when it is no URL. */
function filePath(url: string): string {
  try {
    const u = new URL(url);
    return decodeURIComponent(u.pathname.replace(/^\//, '')) || u.href;
  } catch {
    return url;
  }
}

/** Widgets quote the message inside a sentence of their own, so it ends without a full stop. */
const loadAdvice = 'the connection may have dropped; try again once you are back online, or reload the page';

/** The reader's reading of a failed request: its kind and the message to show. */
export function describeFailure(e: unknown): Failure {
  const name = e instanceof Error ? e.name : '';
  const message = e instanceof Error ? e.message : String(e);
  if (name === 'WorkerStoppedError') return { kind: (e as { replaced?: boolean }).replaced === false ? 'other' : 'worker', message };
  if (name === 'WorkerLoadError') return { kind: 'load', message };
  // A file named by the loaders (src/core/io.ts, Resources' wasm check): "<url>: could not be fetched (…)" or "<url>: HTTP 503 …".
  const named = /(\S+): (?:could not be fetched \(|HTTP (\d{1,3})\b)/.exec(message);
  if (named && (named[2] === undefined || PASSING_STATUS.test(named[2]))) {
    return { kind: 'load', message: `Could not load the file ${filePath(named[1])}: ${loadAdvice}` };
  }
  // A fetch that failed without naming its file (the browser's own words for a dropped connection).
  if (/Failed to fetch|NetworkError when attempting to fetch|Load failed|network error|ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED/i.test(message)) {
    return { kind: 'load', message: `Could not load a file this widget needs: ${loadAdvice}` };
  }
  // tfjs-backend-wasm's own words when its binary did not arrive.
  if (/server can serve the `?\.wasm`? file|fetching of the wasm failed|failed to asynchronously prepare wasm/i.test(message)) {
    return { kind: 'load', message: `Could not load the WebAssembly backend's binary: ${loadAdvice}` };
  }
  return { kind: 'other', message };
}
