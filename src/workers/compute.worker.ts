/// <reference lib="webworker" />
/**
 * The compute worker: owns TensorFlow.js, its backend and every tensor. Widgets talk to it only through the
 * protocol in rpc.ts; every request is cleaned against its declaration in the catalogue (api.ts) before its
 * handler (handlers.ts) runs. Resources (backend, digits, models) are loaded once (resources.ts); the training
 * lab keeps its session in a LabController (lab.ts).
 */
import { REQUESTS, type ComputeApi, type RequestKind } from './api';
import { loadCheckpoint } from './checkpointStore';
import { createHandlers } from './handlers';
import { LabController } from './lab';
import { cleanParams } from './params';
import { Resources } from './resources';
import { serve, type Port } from './rpc';
import { siteRoot, wasmPaths } from './runtime';

let broadcast: (data: unknown) => void = () => {};
const resources = new Resources({ root: siteRoot, wasmPaths, onEvent: (event) => broadcast(event) });
const handlers = createHandlers(resources, new LabController(resources, {}, loadCheckpoint));
broadcast = serve<ComputeApi>(self as unknown as Port, handlers, {
  clean: (kind, params) => cleanParams(kind, REQUESTS[kind as RequestKind], params),
});

// Test-only faults, honoured only when the page named this worker with the flag (`?test-faults` in its URL; see
// src/widgets/lib/compute.ts): an uncaught error, a synchronous hang, or a wasm trap in the next model work.
if (self.name.includes('test-faults')) {
  self.addEventListener('message', (ev: MessageEvent) => {
    const m = ev.data as { type?: string; mode?: string; ms?: number } | null;
    if (m?.type !== 'test-fault') return;
    if (m.mode === 'throw') {
      setTimeout(() => {
        throw new Error('a fault injected by the test');
      });
    } else if (m.mode === 'hang') {
      // Busy for `ms`, answering nothing (the work and its use keep the minifier from dropping the loop).
      const until = Date.now() + (m.ms ?? 60_000);
      let spun = 0;
      while (Date.now() < until) spun += Math.random();
      if (spun < 0) console.log(spun);
    } else if (m.mode === 'trap') {
      resources.testFault = new WebAssembly.RuntimeError('memory access out of bounds');
    }
  });
}
