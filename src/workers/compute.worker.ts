/// <reference lib="webworker" />
/**
 * The compute worker: owns TensorFlow.js, its backend and every tensor. Widgets talk to it only through the
 * protocol in rpc.ts with the catalogue in api.ts, and receive typed arrays.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_ORDER, currentBackend, fallbackBackend, initBackend, type BackendAttempt, type BackendName } from '../core/backends';
import { fetchMnist, toFloatBatch, MNIST_PIXELS, type MnistData } from '../core/data';
import { qSample, x0FromEps, posteriorMean } from '../core/forward';
import { loadUNet, type LoadedUNet } from '../core/models';
import { decodeScaled, encodeScaled, loadLatentModel, type LatentModel } from '../core/autoencoder';
import { halfMask, img2img, inpaint, KEEP_HALVES } from '../core/img2img';
import type { Denoiser, StepInfo } from '../core/types';
import { embed, loadClassifier, type Classifier } from '../core/classifier';
import { withinClassDiversity } from '../core/metrics';
import { ddpmSigma, samplers } from '../core/samplers';
import { classifierFreeGuidance, conditioned, unconditional } from '../core/guidance';
import { yieldToEvents } from './trainingSession';
import { makeNoise } from '../core/noise';
import { makeSchedule } from '../core/schedules';
import type { ComputeApi, BackendInfo, LabInfo, WorkerEvent } from './api';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../core/checkpoint';
import { TrainingSession, type LabSettings } from './trainingSession';
import { serve, type Handlers, type Port } from './rpc';
import { isBackendFailure, modelUrl, siteRoot, wasmPaths } from './runtime';

const scope = self as unknown as DedicatedWorkerGlobalScope;
let backendReady: Promise<BackendInfo> | null = null;

/** Initialise the backend ladder once; every handler awaits this first. */
function ensureBackend(order?: BackendName[]): Promise<BackendInfo> {
  if (!backendReady) {
    const attempts: BackendAttempt[] = [];
    backendReady = initBackend({
      order: order?.length ? order : BACKEND_ORDER,
      wasmPaths,
      timeoutMs: 20_000,
      onAttempt: (a) => attempts.push(a),
    }).then((backend) => {
      emit({ type: 'backend', backend, attempts });
      return { backend, attempts };
    });
    backendReady.catch(() => (backendReady = null));
  }
  return backendReady;
}

let mnist: Promise<MnistData> | null = null;
function loadMnist(): Promise<MnistData> {
  if (!mnist) {
    mnist = fetchMnist(new URL('data/mnist.bin.gz', siteRoot).href);
    mnist.catch(() => (mnist = null));
  }
  return mnist;
}

const models = new Map<string, Promise<LoadedUNet>>();
/**
 * A shipped U-Net by name (models/<name>/), loaded once; a failed load is retried on the next request.
 * The name 'training-lab' is the model the reader is training in this tab.
 */
function loadModel(name: string): Promise<LoadedUNet> {
  if (name === 'training-lab') {
    if (!lab) return Promise.reject(new Error('no model has been trained in this tab yet: start the training lab first'));
    const { unet, schedule, config } = lab;
    return Promise.resolve({ unet, schedule, metadata: { name, config, schedule: { kind: schedule.kind, T: schedule.T } } });
  }
  return cached(models, name, () => loadUNet(modelUrl(name)));
}

/** Load once per name; a failed load is forgotten so the next request tries again. */
function cached<T>(cache: Map<string, Promise<T>>, name: string, load: () => Promise<T>): Promise<T> {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) return Promise.reject(new Error(`"${name}" is not a model name`));
  let p = cache.get(name);
  if (!p) {
    p = ensureBackend().then(load);
    cache.set(name, p);
    p.catch(() => cache.delete(name));
  }
  return p;
}
const latentModels = new Map<string, Promise<LatentModel>>();
const classifiers = new Map<string, Promise<Classifier>>();
const loadLatent = (name: string) => cached(latentModels, name, () => loadLatentModel(modelUrl(name)));
const loadClassifierModel = (name: string) => cached(classifiers, name, () => loadClassifier(modelUrl(name)));

/** Run `work` on the current backend; if the backend breaks, fall back to the next rung and retry once. */
async function withFallback<T>(work: () => Promise<T>): Promise<T> {
  await ensureBackend();
  try {
    return await work();
  } catch (e) {
    const from = currentBackend();
    if (!from || !isBackendFailure(e)) throw e;
    const to = await fallbackBackend(from, { wasmPaths });
    const reason = e instanceof Error ? e.message : String(e);
    backendReady = Promise.resolve({ backend: to, attempts: [] });
    emit({ type: 'fallback', from, to, reason });
    return work();
  }
}

let lab: TrainingSession | null = null;
/** The last checkpoint taken in memory: where training resumes after a backend failure. */
let labLastGood: Checkpoint | null = null;
let labPretrained = false;
/** The running training loop, so `lab.pause` can stop it and wait until it has. */
let labRunning: { stop: AbortController; finished: Promise<unknown> } | null = null;

/** Stop the running loop, if any, and wait for it to settle. */
async function stopLab(): Promise<void> {
  const running = labRunning;
  if (!running) return;
  running.stop.abort();
  await running.finished.catch(() => {});
}

async function labTrainSplit() {
  return (await loadMnist()).train;
}

function labInfo(): LabInfo {
  if (!lab) throw new Error('the training lab has no model: press Start first');
  return {
    step: lab.step,
    settings: lab.settings,
    paramCount: lab.unet.paramCount(),
    lossHistory: lab.lossHistory,
    backend: currentBackend(),
    pretrained: labPretrained,
  };
}

function replaceLab(next: TrainingSession | null): void {
  lab?.dispose();
  lab = next;
  labLastGood = null;
}

/** Clamp settings from the page to what the lab supports (bad URL state never reaches the model). */
function cleanSettings(s: Partial<LabSettings>): LabSettings {
  const num = (v: unknown, lo: number, hi: number, d: number) => (typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : d);
  return {
    size: s.size === 'small' ? 'small' : 'tiny',
    batchSize: Math.round(num(s.batchSize, 1, 256, 32)),
    lr: num(s.lr, 1e-6, 1e-1, 1e-3),
    schedule: s.schedule === 'cosine' ? 'cosine' : 'linear',
    seed: Math.round(num(s.seed, 0, 2 ** 31 - 1, 1)),
  };
}

/** The training loop with backend fallback: on a lost device, resume from the last in-memory checkpoint one rung down. */
async function runLab(
  { maxSteps, lossEvery, sampleEvery, failAfter }: ComputeApi['lab.run']['params'],
  signal: AbortSignal,
  progress: (p: ComputeApi['lab.run']['progress']) => void,
): Promise<LabInfo> {
  await ensureBackend();
  if (!lab) throw new Error('the training lab has no model: press Start first');
  let remaining = maxSteps;
  let failHook = failAfter;
  for (;;) {
    const session = lab;
    const startStep = session.step;
    labLastGood ??= await session.checkpoint();
    try {
      await session.run({
        signal,
        maxSteps: remaining,
        lossEvery,
        sampleEvery,
        failAfter: failHook,
        onProgress: (p) => {
          progress(p);
          // Keep an in-memory restore point every 100 steps (cheap for these models).
          if (p.step - (labLastGood?.state.step ?? 0) >= 100) void session.checkpoint().then((c) => (labLastGood = c));
        },
      });
      return labInfo();
    } catch (e) {
      const from = currentBackend();
      if (!from || !isBackendFailure(e) || signal.aborted) throw e;
      const good = labLastGood ?? (await session.checkpoint().catch(() => null));
      if (!good) throw e;
      const to = await fallbackBackend(from, { wasmPaths });
      backendReady = Promise.resolve({ backend: to, attempts: [] });
      try {
        session.dispose();
      } catch {
        /* the lost backend may refuse */
      }
      lab = TrainingSession.fromCheckpoint(good, await labTrainSplit(), session.settings);
      labLastGood = good;
      emit({ type: 'fallback', from, to, reason: `${e instanceof Error ? e.message : String(e)}; resumed from step ${good.state.step}` });
      if (remaining !== undefined) remaining = Math.max(0, remaining - (session.step - startStep));
      failHook = undefined;
    }
  }
}

/** A denoiser that counts its network evaluations (the race and img2img report them). */
function countingDenoiser(denoiser: Denoiser): { denoiser: Denoiser; calls: () => number } {
  let calls = 0;
  return {
    denoiser: (x, t) => {
      calls++;
      return denoiser(x, t);
    },
    calls: () => calls,
  };
}

/**
 * A sampler onStep that reads x_t and x̂_0 back at most every `everyMs` (and always at the last step) for a
 * progress report, and yields to the worker's message queue between steps so a cancel or a superseding
 * request gets in.
 */
function throttledSteps(everyMs: number, report: (info: StepInfo, x: Float32Array, x0Pred: Float32Array) => void): (info: StepInfo) => Promise<void> {
  let last = -Infinity;
  return async (info) => {
    const now = performance.now();
    if (now - last >= everyMs || info.index === info.steps - 1) {
      last = now;
      const [x, x0Pred] = (await Promise.all([info.x.data(), info.x0Pred.data()])) as Float32Array[];
      report(info, x, x0Pred);
    }
    await yieldToEvents();
  };
}

const handlers: Handlers<ComputeApi> = {
  init: ({ order }) => ensureBackend(order),

  digits: async ({ indices, label, nth = 0 }) => {
    const { test } = await loadMnist();
    let chosen: number[];
    if (indices?.length) {
      chosen = indices.map((i) => Math.min(test.count - 1, Math.max(0, Math.trunc(Number(i) || 0))));
    } else {
      const wanted = Number.isInteger(label) && label! >= 0 && label! <= 9 ? label! : 0;
      const ofClass: number[] = [];
      for (let i = 0; i < test.count; i++) if (test.labels[i] === wanted) ofClass.push(i);
      chosen = [ofClass[((Math.trunc(nth) % ofClass.length) + ofClass.length) % ofClass.length]];
    }
    return {
      pixels: toFloatBatch(test, chosen),
      labels: Int32Array.from(chosen, (i) => test.labels[i]),
      indices: Int32Array.from(chosen),
      count: test.count,
    };
  },

  noise: ({ x0, schedule: kind, T, ts, seed }) =>
    withFallback(async () => {
      if (x0.length !== MNIST_PIXELS) throw new RangeError(`noise: expected ${MNIST_PIXELS} pixels, got ${x0.length}`);
      const schedule = makeSchedule(kind, T);
      const eps = makeNoise(seed).normalArray(MNIST_PIXELS);
      const n = ts.length;
      const images = tf.tidy(() => {
        const clean = tf.tile(tf.tensor4d(x0, [1, 28, 28, 1]), [n, 1, 1, 1]);
        const noise = tf.tile(tf.tensor4d(eps, [1, 28, 28, 1]), [n, 1, 1, 1]);
        return qSample(schedule, clean, ts, noise);
      });
      try {
        return { images: (await images.data()) as Float32Array, eps };
      } finally {
        images.dispose();
      }
    }),

  inspect: ({ model, x0, t, seed, zSeed, variance }) =>
    withFallback(async () => {
      const { unet, schedule, metadata } = await loadModel(model);
      const [h, w, c] = metadata.config.inputShape;
      if (x0.length !== h * w * c) throw new RangeError(`inspect: the model takes ${h}×${w}×${c} images, got ${x0.length} values`);
      const step = Math.min(schedule.T, Math.max(1, Math.round(t)));
      const sigma = ddpmSigma(schedule, step, variance);
      const eps = makeNoise(seed).normalArray(x0.length);
      const z = step > 1 ? makeNoise(zSeed).normalArray(x0.length) : new Float32Array(x0.length);
      const out = tf.tidy(() => {
        const shape: [number, number, number, number] = [1, h, w, c];
        const epsT = tf.tensor4d(eps, shape);
        const xt = qSample(schedule, tf.tensor4d(x0, shape), [step], epsT);
        const epsPred = unet.model(xt, tf.tensor1d([step], 'int32'));
        const x0Pred = x0FromEps(schedule, xt, [step], epsPred);
        const mean = posteriorMean(schedule, x0Pred, xt, step);
        const xPrev = tf.add(mean, tf.mul(sigma, tf.tensor4d(z, shape)));
        const mse = tf.mean(tf.square(tf.sub(epsT, epsPred)));
        return [xt, epsPred, x0Pred, mean, xPrev, mse];
      });
      try {
        const [xt, epsPred, x0Pred, mean, xPrev, mse] = (await Promise.all(out.map((o) => o.data()))) as Float32Array[];
        return {
          xt, eps, epsPred, x0Pred, mean, xPrev,
          epsMse: mse[0],
          sigma,
          coef: {
            sqrtAlphaBar: schedule.sqrtAlphaBar[step],
            sqrtOneMinusAlphaBar: schedule.sqrtOneMinusAlphaBar[step],
            beta: schedule.beta[step],
            alpha: schedule.alpha[step],
          },
          modelName: metadata.name,
        };
      } finally {
        for (const o of out) o.dispose();
      }
    }),

  race: ({ model, sampler, steps, eta, variance, seed, count, reportMs = 60 }, { signal, progress }) =>
    withFallback(async () => {
      const { unet, schedule, metadata } = await loadModel(model);
      const [h, w, c] = metadata.config.inputShape;
      const n = Math.min(16, Math.max(1, Math.round(count)));
      const noise = makeNoise(seed);
      const xT = noise.normal([n, h, w, c]) as tf.Tensor4D;
      const start = performance.now();
      // A class-conditional model draws one digit of each class in turn (0, 1, 2, …), as the evaluation does.
      const k = metadata.config.numClasses;
      const counted = countingDenoiser(k > 0 ? conditioned(unet.model, Array.from({ length: n }, (_, i) => i % Math.min(10, k))) : unconditional(unet.model));
      try {
        const x0 = await samplers[sampler === 'ddpm' ? 'ddpm' : 'ddim'](counted.denoiser, xT, schedule, {
          noise,
          steps: Math.min(schedule.T, Math.max(1, Math.round(steps))),
          eta: Math.min(1, Math.max(0, eta)),
          variance,
          clipX0: true,
          signal,
          // the yield between steps also lets the other racer in
          onStep: throttledSteps(reportMs, (info, x, x0Pred) =>
            progress({ index: info.index, steps: info.steps, t: info.tPrev, x, x0Pred, nfe: counted.calls(), elapsedMs: performance.now() - start }),
          ),
        });
        try {
          const nfe = counted.calls();
          return { x0: (await x0.data()) as Float32Array, nfe, elapsedMs: performance.now() - start, steps: nfe };
        } finally {
          x0.dispose();
        }
      } finally {
        xT.dispose();
      }
    }),

  guide: ({ model, digit, w, seed, count, steps, negative }, { signal }) =>
    withFallback(async () => {
      const [lm, clf] = await Promise.all([loadLatent(model), loadClassifierModel('classifier-mnist')]);
      const start = performance.now();
      const k = lm.metadata.denoiser.config.numClasses;
      const c = Math.min(k - 1, Math.max(0, Math.round(digit)));
      const n = Math.min(36, Math.max(1, Math.round(count)));
      const [h, wd, ch] = lm.metadata.denoiser.config.inputShape;
      const noise = makeNoise(seed);
      const zT = noise.normal([n, h, wd, ch]) as tf.Tensor4D;
      const neg = negative === null || negative === undefined ? undefined : Math.min(k - 1, Math.max(0, Math.round(negative)));
      const denoiser = classifierFreeGuidance(lm.unet.model, { classes: c, w: Math.max(0, Math.min(20, w)), nullClass: k, negative: neg });
      let z: tf.Tensor4D | null = null;
      try {
        z = await samplers.ddim(denoiser, zT, lm.schedule, {
          noise,
          steps: Math.min(100, Math.max(1, Math.round(steps))),
          eta: 0,
          signal,
          onStep: () => yieldToEvents(),
        });
        const x = decodeScaled(lm, z);
        try {
          const [images, latents, emb] = await Promise.all([x.data(), z.data(), embed(clf, x)]);
          let confidence = 0;
          let hits = 0;
          for (let i = 0; i < n; i++) {
            confidence += emb.probs[i * 10 + c];
            if (emb.predicted[i] === c) hits++;
          }
          const diversity = n > 1 ? withinClassDiversity({ data: emb.features, rows: n, cols: emb.dim }, new Int32Array(n).fill(c)).mean : 0;
          return {
            images: images as Float32Array,
            latents: latents as Float32Array,
            latentShape: [h, wd, ch] as [number, number, number],
            predicted: emb.predicted,
            accuracy: hits / n,
            meanConfidence: confidence / n,
            diversity,
            elapsedMs: performance.now() - start,
          };
        } finally {
          x.dispose();
        }
      } finally {
        zT.dispose();
        z?.dispose();
      }
    }),

  autoencode: ({ model, x, sigma, seed }) =>
    withFallback(async () => {
      const lm = await loadLatent(model);
      const [h, w, c] = lm.autoencoder.config.inputShape;
      const latentShape: [number, number, number] = [...lm.autoencoder.latentShape];
      if (x.length !== h * w * c) throw new RangeError(`autoencode: the autoencoder takes ${h}×${w}×${c} images, got ${x.length} values`);
      const s = Number.isFinite(sigma) ? Math.min(3, Math.max(0, sigma)) : 0;
      const latentSize = latentShape[0] * latentShape[1] * latentShape[2];
      const eps = s > 0 ? makeNoise(seed).normalArray(latentSize) : null;
      const out = tf.tidy(() => {
        const image = tf.tensor4d(x, [1, h, w, c]);
        const z = encodeScaled(lm, image);
        const zNoisy = eps ? tf.add(z, tf.mul(tf.tensor4d(eps, [1, ...latentShape]), s)) as tf.Tensor4D : tf.clone(z);
        const rec = decodeScaled(lm, z);
        const dec = eps ? decodeScaled(lm, zNoisy) : tf.clone(rec);
        return [z, zNoisy, dec, rec, tf.mean(tf.squaredDifference(dec, image)), tf.mean(tf.squaredDifference(rec, image))];
      });
      try {
        const [latent, noisyLatent, decoded, reconstruction, mse, mseClean] = (await Promise.all(out.map((o) => o.data()))) as Float32Array[];
        return {
          latent, noisyLatent, decoded, reconstruction,
          latentShape,
          imageShape: [h, w, c] as [number, number, number],
          mse: mse[0],
          mseClean: mseClean[0],
          latentScale: lm.latentScale,
          modelName: lm.metadata.autoencoder.name,
        };
      } finally {
        for (const o of out) o.dispose();
      }
    }),

  img2img: ({ model, mode, x0, strength, steps, digit, keep, seed, reportMs = 80 }, { signal, progress }) =>
    withFallback(async () => {
      const { unet, schedule, metadata } = await loadModel(model);
      const [h, w, c] = metadata.config.inputShape;
      if (x0.length !== h * w * c) throw new RangeError(`img2img: the model takes ${h}×${w}×${c} images, got ${x0.length} values`);
      const k = metadata.config.numClasses;
      const cls = digit === null || digit === undefined || !Number.isFinite(digit) ? null : Math.min(k - 1, Math.max(0, Math.round(digit)));
      const { denoiser, calls } = countingDenoiser(k > 0 ? conditioned(unet.model, [cls], k) : unconditional(unet.model));
      const noise = makeNoise(seed);
      const n = Number.isFinite(steps) ? Math.min(100, Math.max(1, Math.round(steps))) : 20;
      const s = Number.isFinite(strength) ? Math.min(1, Math.max(0, strength)) : 0.5;
      const start = performance.now();
      const onStep = throttledSteps(reportMs, (info, x, x0Pred) => progress({ done: info.index + 1, steps: info.steps, t: info.tPrev, x, x0Pred }));
      const image = tf.tensor4d(x0, [1, h, w, c]);
      const mask = mode === 'inpaint' ? halfMask(KEEP_HALVES.includes(keep) ? keep : 'left', h, w) : null;
      const keepT = mask ? tf.tensor4d(mask, [1, h, w, 1]) : null;
      try {
        if (keepT) {
          const r = await inpaint(denoiser, schedule, image, { keep: keepT, steps: n, noise, clipX0: true, signal, onStep });
          try {
            const out = (await r.x.data()) as Float32Array;
            return { image: out, start: null, t0: schedule.T, timesteps: r.timesteps, mask, nfe: calls(), elapsedMs: performance.now() - start };
          } finally {
            r.x.dispose();
          }
        }
        const r = await img2img(denoiser, schedule, image, { strength: s, steps: n, noise, clipX0: true, signal, onStep });
        try {
          const [out, xStart] = (await Promise.all([r.x.data(), r.xStart.data()])) as Float32Array[];
          return { image: out, start: xStart, t0: r.t0, timesteps: r.timesteps, mask: null, nfe: calls(), elapsedMs: performance.now() - start };
        } finally {
          r.x.dispose();
          r.xStart.dispose();
        }
      } finally {
        image.dispose();
        keepT?.dispose();
      }
    }),

  'lab.create': async ({ settings, pretrained }) => {
    await ensureBackend();
    const train = await labTrainSplit();
    const clean = cleanSettings(settings);
    await stopLab();
    if (pretrained) {
      const shipped = await loadModel('unet-mnist');
      const weights = await shipped.unet.getWeights();
      replaceLab(new TrainingSession({ ...clean, size: 'small', schedule: shipped.metadata.schedule.kind }, train, shipped.metadata.config, weights));
    } else {
      replaceLab(new TrainingSession(clean, train));
    }
    labPretrained = !!pretrained;
    return labInfo();
  },

  'lab.run': async (params, ctx) => {
    await stopLab();
    const stop = new AbortController();
    const onCancel = () => stop.abort();
    ctx.signal.addEventListener('abort', onCancel);
    const finished = runLab(params, stop.signal, ctx.progress);
    labRunning = { stop, finished };
    try {
      return await finished;
    } finally {
      ctx.signal.removeEventListener('abort', onCancel);
      if (labRunning?.finished === finished) labRunning = null;
    }
  },

  'lab.pause': async () => {
    await stopLab();
    return labInfo();
  },

  'lab.samples': async ({ count, steps }) => {
    if (!lab) throw new Error('the training lab has no model: press Start first');
    return { images: await lab.samples(Math.min(64, Math.max(1, Math.round(count))), Math.min(100, Math.max(1, Math.round(steps)))) };
  },

  'lab.checkpoint': async () => {
    if (!lab) throw new Error('the training lab has no model to save');
    const ck = await lab.checkpoint();
    return { bytes: encodeCheckpoint(ck), step: ck.state.step };
  },

  'lab.restore': async ({ bytes, source }) => {
    await ensureBackend();
    const ck = decodeCheckpoint(bytes, source);
    await stopLab();
    const train = await labTrainSplit();
    const settings = cleanSettings(ck.state.settings as Partial<LabSettings>);
    replaceLab(TrainingSession.fromCheckpoint(ck, train, settings));
    labPretrained = false;
    return labInfo();
  },

  'lab.predict': async ({ x, t }) => {
    if (!lab) throw new Error('the training lab has no model');
    return { eps: await lab.predict(x, t) };
  },

  'lab.info': async () => labInfo(),

  'lab.reset': async () => {
    await stopLab();
    replaceLab(null);
    return { ok: true };
  },

  memory: async () => ({ ...tf.memory(), backend: currentBackend() }),
};

const broadcast = serve<ComputeApi>(scope as unknown as Port, handlers);
function emit(event: WorkerEvent): void {
  broadcast(event);
}
