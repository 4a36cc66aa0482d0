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
