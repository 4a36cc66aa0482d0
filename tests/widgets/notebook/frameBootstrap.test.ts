/**
 * The kernel frame's bootstrap (src/widgets/notebook/frameBootstrap.js), run from the very text the frame inlines,
 * against a stand-in for the frame's global: it refuses to run outside an opaque origin, takes exactly one
 * well-formed init from its parent only, starts one worker from a blob: URL of the code and hands it the
 * port, and reports worker errors to the parent.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const source = readFileSync(new URL('../../../src/widgets/notebook/frameBootstrap.js', import.meta.url), 'utf8');
const bootstrap = new Function(`${source}\nreturn kernelFrameBootstrap;`)() as (win: unknown) => string;

class FakePort {}
class FakeWorker {
  static made: FakeWorker[] = [];
  posted: { msg: unknown; transfer: unknown[] }[] = [];
  onmessage: unknown = 'unset';
  onerror: ((e: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly options: unknown,
  ) {
    FakeWorker.made.push(this);
  }
  postMessage(msg: unknown, transfer: unknown[] = []) {
    this.posted.push({ msg, transfer });
  }
}

function frame(origin = 'null') {
  FakeWorker.made = [];
  const toParent: unknown[] = [];
  const parent = { postMessage: (m: unknown) => toParent.push(m) };
  const listeners = new Set<(e: unknown) => void>();
  const win = {
    origin,
    parent,
    Blob,
    MessagePort: FakePort,
    Worker: FakeWorker,
    URL: { createObjectURL: (b: Blob) => `blob:null/${b.size}` },
    addEventListener: (type: string, l: (e: unknown) => void) => type === 'message' && listeners.add(l),
    removeEventListener: (type: string, l: (e: unknown) => void) => listeners.delete(l),
  };
  const deliver = (data: unknown, ports: unknown[] = [new FakePort()], source: unknown = parent) => {
    for (const l of [...listeners]) l({ data, ports, source });
  };
  return { win, parent, toParent, deliver, listeners };
}

const code = () => new Blob(['self.onmessage = () => {};'], { type: 'text/javascript' });
const init = { type: 'init', order: ['wasm', 'cpu'], root: 'http://127.0.0.1:4321/' };

describe('kernel frame bootstrap', () => {
  it('runs nothing and says not-sandboxed when its origin is not opaque', () => {
    const f = frame('http://127.0.0.1:4321');
    expect(bootstrap(f.win)).toBe('not-sandboxed');
    expect(f.toParent).toEqual([{ type: 'not-sandboxed' }]);
    expect(f.listeners.size).toBe(0);
    f.deliver({ type: 'init', code: code(), init });
    expect(FakeWorker.made).toHaveLength(0);
  });

  it('starts one worker from a blob: URL of the code and hands it the clean init with the port', () => {
    const f = frame();
    expect(bootstrap(f.win)).toBe('waiting');
    expect(f.toParent).toEqual([{ type: 'frame-ready' }]);
    const port = new FakePort();
    f.deliver({ type: 'init', code: code(), init: { ...init, extra: 'dropped' } }, [port]);
    expect(FakeWorker.made).toHaveLength(1);
    const w = FakeWorker.made[0];
    expect(w.url).toMatch(/^blob:null\//);
    expect(w.options).toEqual({ name: 'diffusion-lab-notebook' }); // classic: see frameBootstrap.js
    expect(w.posted).toEqual([{ msg: { type: 'init', order: ['wasm', 'cpu'], root: 'http://127.0.0.1:4321/' }, transfer: [port] }]);
    // The worker's own messages (cell code posting on self) are not listened to.
    expect(w.onmessage).toBeNull();
    // Exactly one init: a second one starts nothing.
    f.deliver({ type: 'init', code: code(), init });
    expect(FakeWorker.made).toHaveLength(1);
    expect(f.listeners.size).toBe(0);
  });

  it('ignores an init from anyone but its parent, and malformed ones', () => {
    const f = frame();
    bootstrap(f.win);
    f.deliver({ type: 'init', code: code(), init }, [new FakePort()], { postMessage() {} }); // another window
    f.deliver({ type: 'init', code: code(), init }, [new FakePort()], null); // e.g. its own worker
    f.deliver({ type: 'init', code: 'self.close()', init }); // code that is not a Blob
    f.deliver({ type: 'init', code: new Blob([]), init }); // empty code
    f.deliver({ type: 'init', code: code(), init }, []); // no port
    f.deliver({ type: 'init', code: code(), init }, [new FakePort(), new FakePort()]); // two ports
    f.deliver({ type: 'init', code: code(), init }, [{}]); // not a MessagePort
    f.deliver({ type: 'init', code: code() }); // no init for the worker
    f.deliver({ type: 'init', code: code(), init: { type: 'run' } });
    f.deliver({ type: 'init', code: code(), init: { ...init, order: ['wasm', 'evil'] } });
    f.deliver({ type: 'init', code: code(), init: { ...init, root: 42 } });
    f.deliver({ type: 'run', code: code(), init });
    f.deliver(null);
    f.deliver('init');
    expect(FakeWorker.made).toHaveLength(0);
    // Still waiting for a good one.
    f.deliver({ type: 'init', code: code(), init });
    expect(FakeWorker.made).toHaveLength(1);
  });

  it('reports an error of the worker to the parent as a crash', () => {
    const f = frame();
    bootstrap(f.win);
    f.deliver({ type: 'init', code: code(), init });
    let prevented = false;
    FakeWorker.made[0].onerror!({ message: 'boom', preventDefault: () => (prevented = true) });
    expect(prevented).toBe(true);
    expect(f.toParent).toEqual([{ type: 'frame-ready' }, { type: 'crash', message: 'boom' }]);
  });
});
