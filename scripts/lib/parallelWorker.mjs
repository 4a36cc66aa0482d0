// Bootstrap of a data-parallel training thread (scripts/lib/parallel.ts): Node does not pass `--import tsx`
// on to worker threads, so register tsx here, then load the TypeScript entry named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
