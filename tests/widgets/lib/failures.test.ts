import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../../src/widgets/lib/failures';
import { WorkerLoadError, WorkerStoppedError } from '../../../src/widgets/lib/supervisor';

const ADVICE = 'the connection may have dropped; try again once you are back online, or reload the page';

describe('what a failed request means for the reader', () => {
  it.each([
    [
      'a model file the loader could not fetch',
      new Error('http://127.0.0.1:4321/models/latent-mnist/denoiser/model.json: could not be fetched (Failed to fetch)'),
      `Could not load the file models/latent-mnist/denoiser/model.json: ${ADVICE}`,
    ],
    ['a server error on a weights file', new Error('https://x.org/dl/models/unet-mnist/group1-shard1of1.bin: HTTP 503 Service Unavailable'), `Could not load the file dl/models/unet-mnist/group1-shard1of1.bin: ${ADVICE}`],
    [
      'the wasm binary, found missing after the ladder failed (Resources)',
      new Error("http://h/_astro/tfjs-backend-wasm-simd.Ab12.wasm: could not be fetched (Failed to fetch); the backend ladder stopped: no tfjs backend could be initialised (wasm: tf.setBackend('wasm') resolved false)"),
      `Could not load the file _astro/tfjs-backend-wasm-simd.Ab12.wasm: ${ADVICE}`,
    ],
    ['the data file, fetched without a name', new TypeError('Failed to fetch'), `Could not load a file this widget needs: ${ADVICE}`],
    ["tfjs-backend-wasm's own words", new Error('Make sure the server can serve the `.wasm` file relative to the bundled js file.'), `Could not load the WebAssembly backend's binary: ${ADVICE}`],
  ])('%s is a load failure with a file and advice', (_, e, message) => {
    expect(describeFailure(e)).toEqual({ kind: 'load', message });
  });

  it('keeps errors that trying again would not mend as they are', () => {
    expect(describeFailure(new Error('http://h/models/nope/model.json: HTTP 404 Not Found'))).toEqual({ kind: 'other', message: 'http://h/models/nope/model.json: HTTP 404 Not Found' });
    expect(describeFailure(new Error('guide: parameter "w" must be a finite number, got "lots"')).kind).toBe('other');
    expect(describeFailure('plain text').message).toBe('plain text');
  });

  it('tells a replaced worker (try again) from one that stopped for good (reload), and a worker script that never arrived (a load)', () => {
    expect(describeFailure(new WorkerStoppedError('stopped; try again', true))).toEqual({ kind: 'worker', message: 'stopped; try again' });
    expect(describeFailure(new WorkerStoppedError('stopped again; reload', false)).kind).toBe('other');
    expect(describeFailure(new WorkerLoadError('no script')).kind).toBe('load');
  });
});
