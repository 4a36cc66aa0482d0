/**
 * What a worker loads once and keeps: the tfjs backend, the MNIST split and the shipped models, each fetched
 * on first use. Shared by the compute worker and the notebook kernel.
 *
 * Backend failure: `withFallback` runs a piece of work and, when the backend itself breaks (a lost GPU device,
 * a lost WebGL context), moves to the next rung of the ladder, drops every cached model — their tensors lived on
 * the broken backend — and runs the work once more, which reloads the models from their files on the new one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_ORDER, chooseBackend, currentBackend, fallbackBackend, type BackendName, type InitBackendOptions } from '../core/backends';
import { loadAutoencoder, loadLatentModel, type LatentModel, type LoadedAutoencoder } from '../core/autoencoder';
import { loadClassifier, type Classifier } from '../core/classifier';
import { checkBase, loadControlNet, type ControlNet, type ControlNetMetadata } from '../core/controlnet';
import { fetchMnist, type MnistData } from '../core/data';
import { loadUNet, type LoadedUNet } from '../core/models';
import type { BackendInfo, WorkerEvent } from './api';
import { buildClipGallery, loadShippedClip, type ClipGallery, type LoadedClip } from './clip';
import { MODEL_NAME } from './params';
import { text2imgRefs } from './text2img';

export interface ResourceOptions {
  /** The site's root URL: data/ and models/ live under it. */
  root: string;
  /** Where the wasm binaries live (browser bundles; Node needs none). */
  wasmPaths?: InitBackendOptions['wasmPaths'];
  /** The backends to try when `ensureBackend` is not given an order (default: the whole ladder). */
  order?: readonly BackendName[];
  /** Reads data and model files (tests pass one that reads the disk). */
  fetch?: typeof fetch;
  /** Backend chosen, backend fallen back. */
  onEvent?: (event: WorkerEvent) => void;
  /** Give up on one rung of the ladder after this long (default 20 s). */
  timeoutMs?: number;
}

/** A text-to-image model: its cross-attention U-Net with the autoencoder and CLIP that its model.json names. */
export interface Text2ImgModel {
  unet: LoadedUNet;
  /** The autoencoder whose scaled latents the U-Net denoises (shared with any other model that names it). */
  autoencoder: LoadedAutoencoder['autoencoder'];
  /** Multiply latents by this before diffusion, divide before decoding (the U-Net's file, else the autoencoder's). */
  latentScale: number;
  /** The frozen text encoder (the CLIP lab's cache entry, with its style bins). */
  clip: LoadedClip;
}

/** A ControlNet with the frozen latent model it steers (its denoiser) and whose autoencoder decodes the latents. */
export interface ControlNetModel {
  net: ControlNet;
  metadata: ControlNetMetadata;
  /** The latent model (models/<folder>/ with denoiser/ and autoencoder/), shared with the guidance lab's cache entry. */
  latent: LatentModel;
}

/**
 * The latent model folder (under `modelsRoot`) that a ControlNet's model.json names: `base` must be
 * '<folder>/denoiser/' and `autoencoder` (when given) '<folder>/autoencoder/' of the same folder of this site.
 */
export function controlNetBaseFolder(metadata: Pick<ControlNetMetadata, 'base' | 'autoencoder'>, modelUrl: string, modelsRoot: string): string {
  const file = `${modelUrl}model.json`;
  const under = (ref: string) => {
    const href = new URL(ref.replace(/\/?$/, '/'), modelUrl).href;
    return href.startsWith(modelsRoot) ? href.slice(modelsRoot.length).replace(/\/$/, '') : '';
  };
  const base = under(metadata.base);
  const m = /^([a-z0-9][a-z0-9-]{0,63})\/denoiser$/.exec(base);
  if (!m) throw new Error(`${file}: the base "${metadata.base}" is not the denoiser/ folder of a latent model of this site`);
  if (metadata.autoencoder !== undefined && under(metadata.autoencoder) !== `${m[1]}/autoencoder`) {
    throw new Error(`${file}: the autoencoder "${metadata.autoencoder}" is not the one beside its base (${m[1]}/autoencoder/)`);
  }
  return m[1];
}

/**
 * Errors that mean the backend itself broke, not the request: a lost GPU device, a context loss, memory exhausted,
 * or a WebAssembly trap (emscripten's "Aborted()", "memory access out of bounds", "unreachable"), after which the
 * wasm module's memory cannot be trusted.
 */
export function isBackendFailure(e: unknown): boolean {
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) return true;
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return (
    /device (was )?lost|context (was )?lost|CONTEXT_LOST|GPUDevice|webgl.*(lost|fail)|out of memory/i.test(msg) ||
    /\bAborted\(|memory access out of bounds|unreachable (code should not be )?executed|RuntimeError: (.*\b)?unreachable\b/i.test(msg)
  );
}

type Disposable = { dispose(): void };

export class Resources {
  private backendReady: Promise<BackendInfo> | null = null;
  private mnistData: Promise<MnistData> | null = null;
  private readonly models = new Map<string, Promise<{ value: unknown } & Disposable>>();
  private switching: Promise<BackendName> | null = null;
  /** The ladder as ranked and tried at start-up (the fallback walks down it). */
  private ladder: BackendName[] | null = null;
  /** Tensors held by loaded models (the notebook does not count them as a cell's leftovers). */
  modelTensors = 0;
  /** The next `withFallback` work throws this instead of running (set only by the compute worker's test faults). */
  testFault: Error | null = null;
  /** The order the first caller named: a retry after a failed start keeps it. */
  private firstOrder: readonly BackendName[] | null = null;
  /** The wasm pool size the first caller asked for (`?threads=`); otherwise the backend's own choice. */
  private wasmThreads: number | undefined;

  constructor(private readonly opts: ResourceOptions) {}

  /**
   * Initialise the backend ladder once (the first caller's order wins); every handler awaits this first. The
   * default ladder (no order, or the whole ladder in its default order) is ranked by the probes: a software GPU
   * goes below wasm. An order the page names (`?backend=`, the reader's choice) is tried as given.
   */
  ensureBackend(order?: readonly BackendName[], threads?: number): Promise<BackendInfo> {
    if (order?.length && !this.firstOrder) this.firstOrder = order;
    if (threads && !this.wasmThreads) this.wasmThreads = threads;
    if (!this.backendReady) {
      const given = this.firstOrder ?? this.opts.order ?? BACKEND_ORDER;
      const rank = given.length === BACKEND_ORDER.length && given.every((n, i) => n === BACKEND_ORDER[i]);
      const ready = chooseBackend({
        order: given,
        rank,
        wasmPaths: this.opts.wasmPaths,
        ...(this.wasmThreads ? { wasmThreads: this.wasmThreads } : {}),
        timeoutMs: this.opts.timeoutMs ?? 20_000,
      }).then(
        (choice) => choice,
        (e: unknown) => this.explainStartFailure(given, e),
      ).then((choice) => {
        this.ladder = choice.order;
        const info: BackendInfo = { backend: choice.backend, attempts: choice.attempts, reason: choice.reason, probes: choice.probes, order: choice.order, ranked: choice.ranked, ...(choice.threads ? { threads: choice.threads } : {}) };
        this.opts.onEvent?.({ type: 'backend', ...info });
        return info;
      });
      this.backendReady = ready;
      ready.catch(() => {
        if (this.backendReady === ready) this.backendReady = null;
      });
    }
    return this.backendReady;
  }

  /**
   * The ladder failed to start. tfjs reports a wasm binary that did not arrive only as "setBackend resolved false"
   * (the reason goes to the console), so when wasm was on the ladder, look at its binaries: one that cannot be
   * fetched now is named in the error ("<url>: could not be fetched (…)", as a model file would be), and the page
   * offers to try again. Otherwise the ladder's own error stands.
   */
  private async explainStartFailure(given: readonly BackendName[], e: unknown): Promise<never> {
    const paths = this.opts.wasmPaths;
    if (given.includes('wasm') && paths && typeof paths === 'object') {
      const get = this.opts.fetch ?? fetch;
      for (const url of new Set(Object.values(paths))) {
        const href = new URL(url, this.opts.root).href;
        let why: string | null = null;
        try {
          const res = await get(href, { method: 'HEAD', cache: 'no-store' });
          // Only answers that may pass on their own (no connection, a timeout, a server error) count as "not arrived".
          if (res.status >= 500 || res.status === 408 || res.status === 429) why = `HTTP ${res.status}`;
        } catch (err) {
          why = err instanceof Error ? err.message : String(err);
        }
        if (why) throw new Error(`${href}: could not be fetched (${why}); the backend ladder stopped: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw e;
  }

  /** A file under the site root. */
  url(path: string): string {
    return new URL(path, this.opts.root).href;
  }

  /** A shipped model's folder URL; only plain names (no paths, no other origins). */
  modelUrl(name: string): string {
    if (!MODEL_NAME.test(name)) throw new Error(`"${name}" is not a model name`);
    return this.url(`models/${name}/`);
  }

  /** The MNIST split (plain arrays: it survives a backend change). */
  mnist(): Promise<MnistData> {
    if (!this.mnistData) {
      const p = fetchMnist(this.url('data/mnist.bin.gz'), this.opts.fetch);
      this.mnistData = p;
      p.catch(() => {
        if (this.mnistData === p) this.mnistData = null;
      });
    }
    return this.mnistData;
  }

  unet(name: string): Promise<LoadedUNet> {
    return this.cached(`unet:${name}`, () => loadUNet(this.modelUrl(name), this.opts.fetch), (m) => m.unet);
  }

  latent(name: string): Promise<LatentModel> {
    return this.cached(`latent:${name}`, () => loadLatentModel(this.modelUrl(name), this.opts.fetch), (m) => m);
  }

  classifier(name: string): Promise<Classifier> {
    return this.cached(`classifier:${name}`, () => loadClassifier(this.modelUrl(name), this.opts.fetch), (m) => m);
  }

  /** A shipped CLIP (models/<name>/), checked against the tokenizer, with its style bins. */
  clip(name: string): Promise<LoadedClip> {
    return this.cached(`clip:${name}`, () => loadShippedClip(this.modelUrl(name), this.opts.fetch, () => this.mnist()), (m) => m.clip);
  }

  /** An autoencoder folder under models/ (e.g. 'latent-mnist/autoencoder'), plain names only. */
  autoencoder(folder: string): Promise<LoadedAutoencoder> {
    if (!folder.split('/').every((part) => MODEL_NAME.test(part))) throw new Error(`"${folder}" is not a model folder`);
    return this.cached(`autoencoder:${folder}`, () => loadAutoencoder(this.url(`models/${folder}/`), this.opts.fetch), (m) => m.autoencoder);
  }

  /**
   * A text-to-image model (models/<name>/): the U-Net, then the autoencoder and the CLIP its model.json points at
   * (relative folders such as '../latent-mnist/autoencoder/'), each cached once under its own name.
   */
  async text2img(name: string): Promise<Text2ImgModel> {
    const unet = await this.unet(name);
    const refs = text2imgRefs(unet.metadata, this.modelUrl(name), this.url('models/'));
    const [ae, clip] = await Promise.all([this.autoencoder(refs.autoencoder), this.clip(refs.clip)]);
    const own = unet.metadata.latentScale;
    const latentScale = typeof own === 'number' && Number.isFinite(own) && own > 0 ? own : ae.metadata.latentScale;
    return { unet, autoencoder: ae.autoencoder, latentScale, clip };
  }

  /**
   * A ControlNet (models/<name>/) and the frozen latent model its model.json names ('../latent-mnist/denoiser/' →
   * `latent('latent-mnist')`, the guidance lab's cache entry), checked to be the base it was trained beside.
   */
  async controlnet(name: string): Promise<ControlNetModel> {
    const url = this.modelUrl(name);
    const { net, metadata } = await this.cached(`controlnet:${name}`, () => loadControlNet(url, this.opts.fetch), (m) => m.net);
    const latent = await this.latent(controlNetBaseFolder(metadata, url, this.url('models/')));
    checkBase(net, latent.unet, `${url}model.json`);
    return { net, metadata, latent };
  }

  /** The held-out digits embedded by that CLIP, with their 2-D PCA (plain arrays; built once per model and backend). */
  async clipGallery(name: string): Promise<ClipGallery> {
    const model = await this.clip(name);
    return this.cached(`clip-gallery:${name}`, async () => buildClipGallery(model, await this.mnist()), () => ({ dispose: () => {} }));
  }

  /** Load once per key on the current backend; a failed load is forgotten so the next request tries again. */
  private async cached<T>(key: string, load: () => Promise<T>, disposable: (v: T) => Disposable): Promise<T> {
    let entry = this.models.get(key);
    if (!entry) {
      const loading = this.ensureBackend().then(async () => {
        const before = tf.memory().numTensors;
        const value = await load();
        this.modelTensors += tf.memory().numTensors - before;
        return { value, dispose: () => disposable(value).dispose() };
      });
      entry = loading;
      this.models.set(key, loading);
      loading.catch(() => {
        if (this.models.get(key) === loading) this.models.delete(key);
      });
    }
    return (await entry).value as T;
  }

  /** How many models are loaded or loading (tests). */
  get cachedModels(): number {
    return this.models.size;
  }

  /** Forget every loaded model and dispose it (a broken backend may refuse; its memory goes with it). */
  async drop(): Promise<void> {
    const entries = [...this.models.values()];
    this.models.clear();
    this.modelTensors = 0;
    for (const e of await Promise.allSettled(entries)) {
      try {
        if (e.status === 'fulfilled') e.value.dispose();
      } catch {
        /* its backend is gone */
      }
    }
  }

  /**
   * The backend `from` broke (`reason`): initialise the next rung, drop the cached models and announce it. Resolves to
   * the backend now in use; concurrent failures of the same backend switch once.
   */
  async fallback(from: BackendName, reason: string): Promise<BackendName> {
    if (this.switching) return this.switching;
    const now = currentBackend();
    if (now && now !== from) return now;
    const switching = fallbackBackend(from, { wasmPaths: this.opts.wasmPaths, order: this.ladder ?? this.opts.order ?? BACKEND_ORDER }).then(async (to) => {
      this.backendReady = Promise.resolve({ backend: to, attempts: [], reason: `${from} failed (${reason}); now running on ${to}.` });
      await this.drop();
      this.opts.onEvent?.({ type: 'fallback', from, to, reason });
      return to;
    });
    this.switching = switching;
    try {
      return await switching;
    } finally {
      this.switching = null;
    }
  }

  /** Run `work` on the current backend; if the backend breaks, fall back one rung (models reloaded) and retry once. */
  async withFallback<T>(work: () => Promise<T>): Promise<T> {
    const { backend } = await this.ensureBackend();
    try {
      const fault = this.testFault;
      this.testFault = null;
      if (fault) throw fault;
      return await work();
    } catch (e) {
      if (!isBackendFailure(e)) throw e;
      await this.fallback(currentBackend() ?? backend, e instanceof Error ? e.message : String(e));
      return work();
    }
  }
}
