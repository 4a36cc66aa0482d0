/**
 * The compute worker's handlers, one per request of the catalogue (api.ts). Each receives clean parameters —
 * `serve` has validated and clamped them against their declaration — and returns plain data. Tensor work runs
 * inside tf.tidy or with explicit disposal, results are read with `await data()`, and model work goes through
 * `Resources.withFallback`, so a broken backend is replaced and the models reloaded on the next one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend } from '../core/backends';
import { decodeScaled, encodeScaled, type LatentModel } from '../core/autoencoder';
import { embed } from '../core/classifier';
import { qSample } from '../core/forward';
import { classifierFreeGuidance, conditioned, unconditional } from '../core/guidance';
import { img2img, inpaint } from '../core/img2img';
import { halfMask } from '../core/masks';
import { withinClassDiversity } from '../core/metrics';
import type { LoadedUNet } from '../core/models';
import { makeNoise } from '../core/noise';
import { ddpmSigma, ddpmStep, samplers } from '../core/samplers';
import { throwIfAborted } from '../core/samplers/common';
import { MNIST_PIXELS } from '../core/mnistFormat';
import { flowSamplers, type FlowSamplerName } from '../core/samplers/flow';
import { consistencySamplers } from '../core/samplers/consistency';
import { consistencyGrid, type ConsistencySpec } from '../core/consistency';
import { keptStepIndices, SAMPLER_LABELS, type SamplerName } from '../core/samplerInfo';
import { makeSchedule } from '../core/schedules';
import type { Denoiser, Schedule, StepInfo } from '../core/types';
import { RACE_CONSISTENCY_MODEL, RACE_LANES, RACE_TRAJECTORY_FRAMES, type ComputeApi, type RaceLane, type RaceSampler, type RaceTrajectory } from './api';
import { createClipHandlers } from './clip';
import { createControlNetHandler } from './controlnet';
import { Flow2dController } from './flow2d';
import { createPromptEditHandler, createText2ImgHandler } from './text2img';
import type { LabController } from './lab';
import { readAll } from './readback';
import type { Handlers } from './rpc';
import type { Resources } from './resources';
import { yieldToEvents } from './trainingSession';

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

/** The guidance lab's run on a latent model: its seeded z_T and the guided denoiser (shared by `guide` and its replay). */
function guidedRun(
  lm: LatentModel,
  { digit, w, seed, count, negative }: { digit: number; w: number; seed: number; count: number; negative: number },
): { noise: ReturnType<typeof makeNoise>; zT: tf.Tensor4D; denoiser: Denoiser } {
  const [h, wd, ch] = lm.metadata.denoiser.config.inputShape;
  const noise = makeNoise(seed);
  const zT = noise.normal([count, h, wd, ch]) as tf.Tensor4D;
  const nullClass = lm.metadata.denoiser.config.numClasses;
  return { noise, zT, denoiser: classifierFreeGuidance(lm.unet.model, { classes: digit, w, nullClass, negative: negative < 0 ? undefined : negative }) };
}

/**
 * A sampler onStep that reads x_t and x̂_0 back at most every `everyMs` (and always at the last step) for a
 * progress report, and yields to the worker's message queue between steps so a cancel or a superseding
 * request gets in. The arrays are copies: GPU backends hand out their cached array, which must not be
 * transferred.
 */
function throttledSteps(
  everyMs: number,
  report: (info: StepInfo, x: Float32Array, x0Pred: Float32Array) => void,
  clock?: OwnClock,
  trajectory?: TrajectoryRecorder,
): (info: StepInfo) => Promise<void> {
  let last = -Infinity;
  return async (info) => {
    const now = performance.now();
    const due = now - last >= everyMs || info.index === info.steps - 1;
    const kept = trajectory?.keeps(info) ?? false;
    if (due || kept) {
      clock?.pause();
      const [x, x0Pred] = (await Promise.all([info.x.data(), info.x0Pred.data()])) as Float32Array[];
      clock?.resume();
      if (kept) trajectory!.store(info, x, x0Pred);
      if (due) {
        last = now;
        report(info, x.slice(), x0Pred.slice());
      }
    }
    clock?.pause();
    await yieldToEvents();
    clock?.resume();
  };
}

/** A run's kept steps (keptStepIndices) as frames of x_t and x̂₀ for scrubbing afterwards; copies, never the backend's arrays. */
class TrajectoryRecorder {
  private kept: Set<number> | null = null;
  private readonly frames: { t: number; x: Float32Array; x0: Float32Array }[] = [];

  constructor(private readonly most: number) {}

  keeps(info: StepInfo): boolean {
    this.kept ??= new Set(keptStepIndices(info.steps, this.most));
    return this.kept.has(info.index);
  }

  store(info: StepInfo, x: Float32Array, x0Pred: Float32Array): void {
    this.frames.push({ t: info.tPrev, x: x.slice(), x0: x0Pred.slice() });
  }

  /** The frames as flat arrays (transferred to the page). */
  result(): RaceTrajectory {
    const n = this.frames[0]?.x.length ?? 0;
    const out: RaceTrajectory = { t: new Int32Array(this.frames.length), x: new Float32Array(this.frames.length * n), x0: new Float32Array(this.frames.length * n) };
    this.frames.forEach((f, k) => {
      out.t[k] = Math.round(f.t);
      out.x.set(f.x, k * n);
      out.x0.set(f.x0, k * n);
    });
    return out;
  }
}

/**
 * A run's own compute time in a worker that interleaves requests (the race's lanes take turns between steps): the
 * clock stops at every await of the run — a readback or the yield to the message queue, where another lane's code
 * may run — and goes on when it resumes, so a lane reports about the time it would take alone rather than the wall
 * time of the whole race. On wasm and cpu that is the lane's computation; a GPU backend computes asynchronously,
 * and there the clock counts the work the lane hands to it.
 */
export class OwnClock {
  private busy = 0;
  private since: number | null = performance.now();

  pause(): void {
    if (this.since === null) return;
    this.busy += performance.now() - this.since;
    this.since = null;
  }

  resume(): void {
    this.since ??= performance.now();
  }

  /** Milliseconds counted so far. */
  ms(): number {
    return this.busy + (this.since === null ? 0 : performance.now() - this.since);
  }
}

/** Whether a U-Net predicts the flow's velocity (flow matching) rather than the noise ε (its model.json says so). */
export const predictsVelocity = (metadata: LoadedUNet['metadata']): boolean => metadata.prediction === 'velocity';
/** Whether a U-Net is a consistency model (its model.json says so): its output is read through f = a·y + b·ε̂ (core/consistency.ts). */
export const isConsistencyModel = (metadata: LoadedUNet['metadata']): boolean => metadata.prediction === 'consistency';

/** The family of samplers a U-Net's output is meant for (RaceLane['family']). */
function modelFamily(metadata: LoadedUNet['metadata']): RaceLane['family'] {
  return predictsVelocity(metadata) ? 'flow' : isConsistencyModel(metadata) ? 'consistency' : 'diffusion';
}

/**
 * Refuse to run a model with a sampler of another family — a velocity model with a diffusion sampler, an ε-model
 * with a flow sampler, a consistency model with anything but the consistency sampler, the consistency sampler on
 * anything but a consistency model: the network's output means something else to each, so the run would produce
 * noise without an error.
 */
export function checkSamplerFits(kind: string, metadata: LoadedUNet['metadata'], sampler: RaceSampler | SamplerName): void {
  const lane = RACE_LANES.find((l) => l.key === sampler);
  const samplerFamily = lane?.family ?? 'diffusion';
  const label = lane?.label ?? SAMPLER_LABELS[sampler as SamplerName] ?? sampler;
  const family = modelFamily(metadata);
  if (family === samplerFamily) return;
  const what = { diffusion: 'the diffusion sampler', flow: 'the flow sampler', consistency: 'the consistency sampler' }[samplerFamily];
  if (family === 'consistency') {
    throw new Error(`${kind}: ${metadata.name} is a consistency model (its output is read through its consistency function, not as the noise ε or a velocity); ${what} ${label} cannot run it, only the consistency sampler`);
  }
  if (samplerFamily === 'consistency') {
    const is = family === 'flow' ? 'a flow-matching model (it predicts a velocity)' : 'a diffusion model (it predicts the noise ε)';
    throw new Error(`${kind}: ${metadata.name} is ${is}, not a consistency model; ${what} (${label}) runs only a consistency model such as ${RACE_CONSISTENCY_MODEL}`);
  }
  if (family === 'flow') {
    throw new Error(`${kind}: ${metadata.name} is a flow-matching model (it predicts a velocity, not the noise ε); the diffusion sampler ${label} cannot run it, only the flow's Euler or Heun`);
  }
  throw new Error(`${kind}: ${metadata.name} is a diffusion model (it predicts the noise ε, not a velocity); the flow sampler ${label} cannot run it`);
}

/**
 * A consistency model's grid size N, top t_N and σ_d from its model.json (`consistency: { gridSize, tMax?, sigmaData,
 * grid? }`), checked: t_N an integer in 2…T (T when absent), N an integer in 2…t_N, σ_d > 0, and a stored grid equal to
 * the one the sampler derives from N, t_N and the schedule (else the run would visit timesteps the model was not
 * distilled on).
 */
export function consistencySpecOf(kind: string, metadata: LoadedUNet['metadata'], schedule: Schedule): ConsistencySpec {
  const spec = metadata.consistency as { gridSize?: unknown; tMax?: unknown; sigmaData?: unknown; grid?: unknown } | undefined;
  const file = `${metadata.name}/model.json`;
  if (!spec || typeof spec !== 'object') throw new Error(`${kind}: ${file} has no consistency settings (userDefinedMetadata.consistency)`);
  const { gridSize, sigmaData, grid } = spec;
  const tMax = spec.tMax ?? schedule.T;
  if (typeof tMax !== 'number' || !Number.isInteger(tMax) || tMax < 2 || tMax > schedule.T) throw new Error(`${kind}: ${file}: consistency.tMax must be an integer in 2…${schedule.T}, got ${String(tMax)}`);
  if (typeof gridSize !== 'number' || !Number.isInteger(gridSize) || gridSize < 2 || gridSize > tMax) {
    throw new Error(`${kind}: ${file}: consistency.gridSize must be an integer in 2…${tMax}, got ${String(gridSize)}`);
  }
  if (typeof sigmaData !== 'number' || !(sigmaData > 0) || !Number.isFinite(sigmaData)) throw new Error(`${kind}: ${file}: consistency.sigmaData must be a positive number, got ${String(sigmaData)}`);
  if (grid !== undefined) {
    const expected = consistencyGrid(schedule, gridSize, tMax);
    if (!Array.isArray(grid) || grid.length !== expected.length || grid.some((t, i) => t !== expected[i])) {
      throw new Error(`${kind}: ${file}: consistency.grid is not the ${gridSize}-point grid of its schedule up to t = ${tMax} (${expected.join(', ')})`);
    }
  }
  return { gridSize, tMax, sigmaData };
}

/** [1, h, w, c] of a model's input, after checking that `values` holds one such image. */
function imageShape(kind: string, inputShape: readonly number[], values: Float32Array): [number, number, number, number] {
  const [h, w, c] = inputShape;
  if (values.length !== h * w * c) throw new RangeError(`${kind}: the model takes ${h}×${w}×${c} images, got ${values.length} values`);
  return [1, h, w, c];
}

export function createHandlers(res: Resources, lab: LabController): Handlers<ComputeApi> {
  /** A U-Net by name; 'training-lab' is the model the reader is training in this tab, or else the one saved in this browser. */
  const unetOf = (name: string): Promise<LoadedUNet> => (name === 'training-lab' ? lab.modelOrSaved() : res.unet(name));
  const clip = createClipHandlers(res);
  const text2img = createText2ImgHandler(res);
  const promptEdit = createPromptEditHandler(res);
  const controlnet = createControlNetHandler(res);
  const flow2d = new Flow2dController(res);

  return {
    init: ({ order, threads }) => res.ensureBackend(order, threads),

    noise: ({ x0, schedule: kind, T, ts, seed }) =>
      res.withFallback(async () => {
        const schedule = makeSchedule(kind, T);
        if (ts.some((t) => t > T)) throw new RangeError(`noise: every t must be at most T = ${T}`);
        const shape = imageShape('noise', [28, 28, 1], x0);
        const eps = makeNoise(seed).normalArray(x0.length);
        const images = tf.tidy(() => {
          const repeat = [ts.length, 1, 1, 1];
          return qSample(schedule, tf.tile(tf.tensor4d(x0, shape), repeat), ts, tf.tile(tf.tensor4d(eps, shape), repeat));
        });
        const [out] = await readAll([images]);
        return { images: out };
      }),

    inspect: ({ model, x0, t, seed, zSeed, variance }) =>
      res.withFallback(async () => {
        const { unet, schedule, metadata } = await unetOf(model);
        checkSamplerFits('inspect', metadata, 'ddpm');
        const shape = imageShape('inspect', metadata.config.inputShape, x0);
        const eps = makeNoise(seed).normalArray(x0.length);
        const z = makeNoise(zSeed).normalArray(x0.length);
        const out = tf.tidy(() => {
          const epsT = tf.tensor4d(eps, shape);
          const xt = qSample(schedule, tf.tensor4d(x0, shape), [t], epsT);
          // No class label: a conditional model runs its ∅ (unconditional) branch.
          const epsPred = unet.model(xt, tf.tensor1d([t], 'int32'));
          // The core DDPM step twice: with z for x_{t−1}, with zero noise for the posterior mean μ̃.
          const mean = ddpmStep(xt, epsPred, schedule, t, { variance, z: tf.zerosLike(xt) }).x;
          const { x: xPrev, x0Pred } = ddpmStep(xt, epsPred, schedule, t, { variance, z: tf.tensor4d(z, shape) });
          return [xt, epsPred, x0Pred, mean, xPrev, tf.mean(tf.squaredDifference(epsT, epsPred))];
        });
        const [xt, epsPred, x0Pred, mean, xPrev, mse] = await readAll(out);
        return {
          xt, eps, epsPred, x0Pred, mean, xPrev,
          epsMse: mse[0],
          sigma: ddpmSigma(schedule, t, variance),
          coef: { sqrtAlphaBar: schedule.sqrtAlphaBar[t], sqrtOneMinusAlphaBar: schedule.sqrtOneMinusAlphaBar[t], beta: schedule.beta[t], alpha: schedule.alpha[t] },
          modelName: metadata.name,
        };
      }),

    race: ({ model, sampler, steps, spacing, eta, variance, seed, count, reportMs }, { signal, progress }) =>
      res.withFallback(async () => {
        const { unet, schedule, metadata } = await unetOf(model);
        checkSamplerFits('race', metadata, sampler);
        const consistency = sampler === 'consistency' ? consistencySpecOf('race', metadata, schedule) : null;
        if (consistency && steps > consistency.gridSize - 1) {
          throw new RangeError(`race: ${metadata.name} takes 1…${consistency.gridSize - 1} steps (its grid has ${consistency.gridSize} points), got ${steps}`);
        }
        const [h, w, c] = metadata.config.inputShape;
        const noise = makeNoise(seed);
        const xT = noise.normal([count, h, w, c]) as tf.Tensor4D;
        // the lanes share this worker and take turns between steps: each reports its own compute time (OwnClock)
        const clock = new OwnClock();
        // A class-conditional model draws one digit of each class in turn (0, 1, 2, …), as the evaluation does.
        const k = metadata.config.numClasses;
        const counted = countingDenoiser(k > 0 ? conditioned(unet.model, Array.from({ length: count }, (_, i) => i % k)) : unconditional(unet.model));
        try {
          // the yield between steps also lets the other racer in
          const trajectory = new TrajectoryRecorder(RACE_TRAJECTORY_FRAMES);
          const onStep = throttledSteps(reportMs, (info, x, x0Pred) =>
            progress({ index: info.index, steps: info.steps, t: info.tPrev, x, x0Pred, nfe: counted.calls(), elapsedMs: clock.ms() }),
          clock, trajectory);
          // A flow lane integrates dx/ds = v from the same x_T (s = 1) to s = 0; the network reads t = 1000·s.
          // The consistency lane maps the same x_T to x̂_0 in `steps` evaluations on its model's grid (Song et al. 2023, Algorithm 1).
          const x0 = sampler.startsWith('flow-')
            ? await flowSamplers[sampler.slice('flow-'.length) as FlowSamplerName](counted.denoiser, xT, { steps, signal, onStep })
            : sampler === 'consistency'
              ? await consistencySamplers.consistency(counted.denoiser, xT, schedule, { noise, steps, ...consistency!, signal, onStep })
              : await samplers[sampler as SamplerName](counted.denoiser, xT, schedule, { noise, steps, spacing, eta, variance, clipX0: true, signal, onStep });
          clock.pause();
          const [out] = await readAll([x0]);
          return { x0: out, nfe: counted.calls(), elapsedMs: clock.ms(), steps: counted.calls(), trajectory: trajectory.result() };
        } finally {
          xT.dispose();
        }
      }),

    guide: ({ model, digit, w, seed, count, steps, negative }, { signal }) =>
      res.withFallback(async () => {
        const [lm, clf] = await Promise.all([res.latent(model), res.classifier('classifier-mnist')]);
        const start = performance.now();
        const [h, wd, ch] = lm.metadata.denoiser.config.inputShape;
        const { noise, zT, denoiser } = guidedRun(lm, { digit, w, seed, count, negative });
        let z: tf.Tensor4D | null = null;
        try {
          z = await samplers.ddim(denoiser, zT, lm.schedule, { noise, steps, eta: 0, signal, onStep: () => yieldToEvents() });
          const x = decodeScaled(lm, z);
          const emb = await embed(clf, x);
          const [images, latents] = await readAll([x, z]);
          z = null;
          let confidence = 0;
          let hits = 0;
          for (let i = 0; i < count; i++) {
            confidence += emb.probs[i * 10 + digit];
            if (emb.predicted[i] === digit) hits++;
          }
          const diversity = count > 1 ? withinClassDiversity({ data: emb.features, rows: count, cols: emb.dim }, new Int32Array(count).fill(digit)).mean : 0;
          return {
            images,
            latents,
            latentShape: [h, wd, ch] as [number, number, number],
            predicted: emb.predicted,
            accuracy: hits / count,
            meanConfidence: confidence / count,
            diversity,
            elapsedMs: performance.now() - start,
          };
        } finally {
          zT.dispose();
          z?.dispose();
        }
      }),

    'guide.trajectory': ({ model, digit, w, seed, count, steps, negative }, { signal }) =>
      res.withFallback(async () => {
        const lm = await res.latent(model);
        const { noise, zT, denoiser } = guidedRun(lm, { digit, w, seed, count, negative });
        // the same run as `guide` (same x_T, sampler and steps), its kept steps' z_t and ẑ_0 held on the device
        const kept: { t: number; z: tf.Tensor4D; z0: tf.Tensor4D }[] = [];
        let keep: Set<number> | null = null;
        try {
          const z = await samplers.ddim(denoiser, zT, lm.schedule, {
            noise, steps, eta: 0, signal,
            onStep: (info) => {
              keep ??= new Set(keptStepIndices(info.steps, RACE_TRAJECTORY_FRAMES));
              if (keep.has(info.index)) kept.push({ t: info.tPrev, z: tf.clone(info.x), z0: tf.clone(info.x0Pred) });
              return yieldToEvents();
            },
          });
          z.dispose();
          const n = MNIST_PIXELS;
          const out: RaceTrajectory = { t: Int32Array.from(kept, (f) => Math.round(f.t)), x: new Float32Array(kept.length * count * n), x0: new Float32Array(kept.length * count * n) };
          // one frame at a time: two decodes of `count` latents each
          for (let f = 0; f < kept.length; f++) {
            throwIfAborted(signal);
            const [x, x0] = await readAll([decodeScaled(lm, kept[f].z), decodeScaled(lm, kept[f].z0)]);
            out.x.set(x, f * count * n);
            out.x0.set(x0, f * count * n);
            await yieldToEvents();
          }
          return out;
        } finally {
          zT.dispose();
          for (const f of kept) {
            f.z.dispose();
            f.z0.dispose();
          }
        }
      }),

    autoencode: ({ model, x, sigma, seed }) =>
      res.withFallback(async () => {
        const lm = await res.latent(model);
        const shape = imageShape('autoencode', lm.autoencoder.config.inputShape, x);
        const latentShape: [number, number, number] = [...lm.autoencoder.latentShape];
        const eps = sigma > 0 ? makeNoise(seed).normalArray(latentShape[0] * latentShape[1] * latentShape[2]) : null;
        const out = tf.tidy(() => {
          const image = tf.tensor4d(x, shape);
          const z = encodeScaled(lm, image);
          const zNoisy = eps ? tf.add(z, tf.mul(tf.tensor4d(eps, [1, ...latentShape]), sigma)) as tf.Tensor4D : z;
          const rec = decodeScaled(lm, z);
          const dec = eps ? decodeScaled(lm, zNoisy) : rec;
          return [z, zNoisy, dec, rec, tf.mean(tf.squaredDifference(dec, image)), tf.mean(tf.squaredDifference(rec, image))];
        });
        const [latent, noisyLatent, decoded, reconstruction, mse, mseClean] = await readAll(out);
        return {
          latent, noisyLatent, decoded, reconstruction,
          latentShape,
          imageShape: shape.slice(1) as [number, number, number],
          mse: mse[0],
          mseClean: mseClean[0],
          latentScale: lm.latentScale,
          modelName: lm.metadata.autoencoder.name,
        };
      }),

    img2img: ({ model, mode, x0, strength, steps, digit, keep, seed, reportMs }, { signal, progress }) =>
      res.withFallback(async () => {
        const { unet, schedule, metadata } = await unetOf(model);
        checkSamplerFits('img2img', metadata, 'ddim');
        const shape = imageShape('img2img', metadata.config.inputShape, x0);
        const k = metadata.config.numClasses;
        const { denoiser, calls } = countingDenoiser(k > 0 ? conditioned(unet.model, [digit < 0 ? null : digit], k) : unconditional(unet.model));
        const noise = makeNoise(seed);
        const start = performance.now();
        const onStep = throttledSteps(reportMs, (info, x, x0Pred) => progress({ done: info.index + 1, steps: info.steps, t: info.tPrev, x, x0Pred }));
        const image = tf.tensor4d(x0, shape);
        const mask = mode === 'inpaint' ? halfMask(keep, shape[1], shape[2]) : null;
        const keepT = mask ? tf.tensor4d(mask, [1, shape[1], shape[2], 1]) : null;
        try {
          if (keepT) {
            const r = await inpaint(denoiser, schedule, image, { keep: keepT, steps, noise, clipX0: true, signal, onStep });
            const [out] = await readAll([r.x]);
            return { image: out, start: null, t0: schedule.T, timesteps: r.timesteps, mask, nfe: calls(), elapsedMs: performance.now() - start };
          }
          const r = await img2img(denoiser, schedule, image, { strength, steps, noise, clipX0: true, signal, onStep });
          const [out, xStart] = await readAll([r.x, r.xStart]);
          return { image: out, start: xStart, t0: r.t0, timesteps: r.timesteps, mask: null, nfe: calls(), elapsedMs: performance.now() - start };
        } finally {
          image.dispose();
          keepT?.dispose();
        }
      }),

    'img2img.prompt': (p, ctx) => promptEdit(p, ctx),

    'lab.create': (p) => lab.create(p),
    'lab.run': (p, { signal, progress }) => lab.run(p, signal, progress),
    'lab.pause': () => lab.pause(),
    'lab.samples': (p) => lab.samples(p),
    'lab.checkpoint': () => lab.checkpoint(),
    'lab.restore': (p) => lab.restore(p),
    'lab.predict': (p) => lab.predict(p),
    'lab.info': async () => lab.info(),
    'lab.reset': () => lab.reset(),
    'clip.rank': (p) => clip.rank(p),
    'clip.classify': (p) => clip.classify(p),
    'clip.map': (p) => clip.map(p),
    text2img: (p, ctx) => text2img(p, ctx),
    controlnet: (p, ctx) => controlnet(p, ctx),
    'flow2d.create': (p) => flow2d.create(p),
    'flow2d.train': (p, { signal, progress }) => flow2d.train(p, signal, progress),
    'flow2d.pause': () => flow2d.pause(),
    'flow2d.info': async () => flow2d.info(),
    'flow2d.reset': () => flow2d.reset(),
    'flow2d.sample': (p, { signal }) => flow2d.sample(p, signal),
    'flow2d.field': (p) => flow2d.field(p),
    'flow2d.reflow': (p, { signal, progress }) => flow2d.reflow(p, signal, progress),
    'flow2d.sweep': (p, { signal }) => flow2d.sweep(p, signal),
    memory: async () => ({ ...tf.memory(), backend: currentBackend() }),
  };
}
