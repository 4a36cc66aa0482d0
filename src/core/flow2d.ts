/**
 * The 2-D flow playground: two small networks trained side by side from the same seed on the same points — one by
 * diffusion (ε-prediction on a variance-preserving path, Ho et al. 2020), one by flow matching on the straight path
 * (src/core/flow.ts) — sampled from the same Gaussian noise, with reflow (Liu et al. 2023, §2.3) for the flow.
 *
 * Points travel as [N, 1, 1, 2] tensors, so the losses, samplers and reflow of the image models apply unchanged.
 *
 * | name            | symbol                      | meaning                                                              |
 * |-----------------|-----------------------------|----------------------------------------------------------------------|
 * | `s`             | s ∈ [0, 1]                  | the straight path's time: x_s = (1 − s)·x₀ + s·ε (0 data, 1 noise)   |
 * | `t`             | t ∈ {1 … T}                 | the diffusion model's timestep: x_t = α_t·x₀ + σ_t·ε                  |
 * | `alpha`,`sigma` | α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t) |                                                                      |
 * | `sOfT`          | s(t) = σ_t/(α_t + σ_t)      | where x_t/(α_t + σ_t) lies on the straight path (Kingma & Gao 2023)  |
 * | `v`             | v = ε − x₀ = dx_s/ds        | the flow's target; the diffusion model's implied v̂ = ε̂ − x̂₀        |
 *
 * The diffusion model is drawn in the straight path's coordinates y = x_t/(α_t + σ_t): there DDIM with η = 0 (the
 * probability-flow ODE) is exactly Euler on dy/ds = ε̂ − x̂₀ over the grid s(t_k) (samplers/flow.ts, header), so
 * both panels show one kind of path, one clock and one arrow field; what differs is what each network learned and
 * the grid it steps on. The native x_t are kept too (`nativeFrames`), whose arcs are partly the VP coordinates' own.
 *
 * The schedule is linear (T = 1000): one DDIM step from x_T returns x̂₀ = (x_T − σ_T ε̂)/α_T, which multiplies the
 * network's error by 1/α_T — 157 on the linear schedule, some 20,000 on the cosine one (ᾱ_T ≈ 2·10⁻⁹).
 */
import * as tf from '@tensorflow/tfjs-core';
import './nn/registerGradients';
import { FusedAdam } from './adam';
import { drawFlow, flowLoss, FLOW_T, type FlowDraws } from './flow';
import { drawTarget, sampleTarget, VIEW, type Preset } from './flow2dData';
import { energyDistance, pathStraightness } from './flowMetrics';
import { unconditional } from './guidance';
import { makeNoise } from './noise';
import { createDense, dense, type DenseParams, ParamStore, silu } from './nn';
import { fork, makeRng, type Rng } from './rng';
import { ddimTimesteps, samplers } from './samplers';
import { flowSamplers, reflowPairs, type FlowSamplerName } from './samplers/flow';
import { makeSchedule } from './schedules';
import { drawTraining, epsLoss } from './train';
import type { Denoiser, EpsModel, Schedule } from './types';

export * from './flow2dData';

// ---- the network -------------------------------------------------------------------------------------------

export interface PointMlpConfig {
  /** Width of the hidden layers. */
  hidden: number;
  /** Number of hidden layers. */
  layers: number;
  /** Size of the sinusoidal embedding of t. */
  embDim: number;
}

/** 3 hidden layers of 64 with SiLU, 32 Fourier features of t: 10,690 parameters. */
export const POINT_MLP: PointMlpConfig = { hidden: 64, layers: 3, embDim: 32 };

export interface PointMlp {
  /** The EpsModel signature on [N, 1, 1, 2]: t is read as a float (flow: FLOW_T·s; diffusion: the integer timestep). */
  readonly model: EpsModel;
  readonly params: ParamStore;
  readonly config: PointMlpConfig;
  dispose(): void;
}

/**
 * Fourier features of τ = t/1000 ∈ [0, 1] (both clocks: FLOW_T·s and the diffusion timestep, T = 1000):
 * [sin(kπτ)…, cos(kπτ)…] for k = 1 … dim/2. The transformer's embedding (timestepEmbedding, periods down to 2π
 * timesteps) changes faster than a 2-D field does, and a small MLP trains several times slower on it.
 */
export function timeFeatures(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  const half = dim / 2;
  const freqs = Float32Array.from({ length: half }, (_, k) => ((k + 1) * Math.PI) / 1000);
  return tf.tidy(() => {
    const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
  });
}

/**
 * A time-conditioned MLP for 2-D points: [x, y, emb(t)] → hidden → … → 2, SiLU between (the toy networks of
 * Lipman et al. 2023 and Tong et al. 2024 are of this kind). The same seed gives the same weights.
 */
export function createPointMlp(seed: number, config: PointMlpConfig = POINT_MLP): PointMlp {
  const params = new ParamStore(seed);
  const layers: DenseParams[] = [];
  let width = 2 + config.embDim;
  for (let i = 0; i < config.layers; i++) {
    layers.push(createDense(params, `hidden${i}`, width, config.hidden));
    width = config.hidden;
  }
  const out = createDense(params, 'out', width, 2);
  const model: EpsModel = (x, t) =>
    tf.tidy(() => {
      const n = x.shape[0];
      let h: tf.Tensor2D = tf.concat([tf.reshape(x, [n, 2]), timeFeatures(t, config.embDim)], 1);
      for (const p of layers) h = silu(dense(p, h));
      return tf.reshape(dense(out, h), [n, 1, 1, 2]) as tf.Tensor4D;
    });
  return { model, params, config, dispose: () => params.dispose() };
}

// ---- the diffusion model in the straight path's coordinates --------------------------------------------------

/** s(t) = σ_t/(α_t + σ_t) for t = 0 … T (the straight-path time of each diffusion timestep). */
export function straightTimes(schedule: Schedule): Float64Array {
  return Float64Array.from(schedule.alphaBar, (ab) => Math.sqrt(1 - ab) / (Math.sqrt(ab) + Math.sqrt(1 - ab)));
}

/** The timestep t ∈ 1 … T whose s(t) is nearest to s. */
export function timestepOfS(schedule: Schedule, s: number, sOfT: Float64Array = straightTimes(schedule)): number {
  let best = 1;
  for (let t = 2; t <= schedule.T; t++) if (Math.abs(sOfT[t] - s) < Math.abs(sOfT[best] - s)) best = t;
  return best;
}

/**
 * The velocity an ε-model implies at straight-path points y and timestep t: x = (α + σ)·y, x̂₀ = (x − σ ε̂)/α,
 * v̂ = ε̂ − x̂₀ (flow.ts conversions). New tensor [N, 1, 1, 2].
 */
export function impliedVelocity(model: EpsModel, schedule: Schedule, y: tf.Tensor4D, t: number): tf.Tensor4D {
  const a = schedule.sqrtAlphaBar[t];
  const b = schedule.sqrtOneMinusAlphaBar[t];
  return tf.tidy(() => {
    const x = tf.mul(y, a + b) as tf.Tensor4D;
    const eps = model(x, tf.fill([y.shape[0]], t, 'int32') as tf.Tensor1D);
    const x0 = tf.div(tf.sub(x, tf.mul(eps, b)), a);
    return tf.sub(eps, x0) as tf.Tensor4D;
  });
}

// ---- sampling with recorded paths -------------------------------------------------------------------------

export type Side = 'diffusion' | 'flow';

export interface SampleRun {
  /** Recorded positions in the straight path's coordinates: frames[k] holds all n points after k steps (frame 0 = x_T). */
  frames: Float32Array[];
  /** The straight-path time s of each frame (1 … 0). */
  times: number[];
  /** Diffusion only: the native x_t of each frame (frames[k] = nativeFrames[k]/(α + σ)). */
  nativeFrames?: Float32Array[];
  /** Network evaluations. */
  nfe: number;
}

export interface SampleOptions {
  steps: number;
  /** The flow's integrator (the diffusion model always takes DDIM with η = 0). */
  sampler?: FlowSamplerName;
  /** Keep every intermediate frame (otherwise only the first and the last). */
  record?: boolean;
  signal?: AbortSignal;
  /** Called between steps (the worker yields to its message queue here). */
  onStep?: () => Promise<void> | void;
}

/** Integrate the flow from x_T (plain values, n points) with Euler or Heun; xT's values are not changed. */
export async function sampleFlow(model: EpsModel, xT: Float32Array, opts: SampleOptions): Promise<SampleRun> {
  const n = xT.length / 2;
  const sampler = opts.sampler ?? 'euler';
  const frames: Float32Array[] = [xT.slice()];
  const x = tf.tensor4d(xT, [n, 1, 1, 2]);
  let calls = 0;
  const field: Denoiser = (y, t) => {
    calls++;
    return unconditional(model)(y, t);
  };
  try {
    const last = await flowSamplers[sampler](field, x, {
      steps: opts.steps,
      signal: opts.signal,
      onStep: async (info) => {
        if (opts.record !== false && info.index < info.steps - 1) frames.push(Float32Array.from(await info.x.data()));
        await opts.onStep?.();
      },
    });
    frames.push(Float32Array.from(await last.data()));
    last.dispose();
  } finally {
    x.dispose();
  }
  const times = opts.record === false ? [1, 0] : Array.from({ length: opts.steps + 1 }, (_, i) => 1 - i / opts.steps);
  return { frames, times, nfe: calls };
}

/**
 * DDIM with η = 0 (Song et al. 2021, eq. 12; the probability-flow ODE) from x_T over the 'trailing' grid (its first
 * step starts at t = T), recorded in native and straight coordinates.
 */
export async function sampleDiffusion(model: EpsModel, schedule: Schedule, xT: Float32Array, opts: SampleOptions): Promise<SampleRun> {
  const n = xT.length / 2;
  const ts = ddimTimesteps(schedule.T, opts.steps, 'trailing');
  const native: Float32Array[] = [xT.slice()];
  const visited = [ts[0]];
  const x = tf.tensor4d(xT, [n, 1, 1, 2]);
  let calls = 0;
  const denoiser: Denoiser = (y, t) => {
    calls++;
    return unconditional(model)(y, t);
  };
  try {
    const last = await samplers.ddim(denoiser, x, schedule, {
      noise: makeNoise(0), // η = 0 draws none
      steps: opts.steps,
      eta: 0,
      spacing: 'trailing',
      signal: opts.signal,
      onStep: async (info) => {
        if (opts.record !== false && info.index < info.steps - 1) {
          native.push(Float32Array.from(await info.x.data()));
          visited.push(info.tPrev);
        }
        await opts.onStep?.();
      },
    });
    native.push(Float32Array.from(await last.data()));
    visited.push(0);
    last.dispose();
  } finally {
    x.dispose();
  }
  const sOfT = straightTimes(schedule);
  const scale = visited.map((t) => schedule.sqrtAlphaBar[t] + schedule.sqrtOneMinusAlphaBar[t]);
  const frames = native.map((f, k) => Float32Array.from(f, (v) => v / scale[k]));
  return { frames, times: visited.map((t) => sOfT[t]), nativeFrames: native, nfe: calls };
}

// ---- the playground session --------------------------------------------------------------------------------

export interface PlaygroundOptions {
  preset: Preset;
  seed: number;
  /** The reader's points (interleaved x, y) for the `custom` preset. */
  custom?: Float32Array;
  /** Points per training step (default 1024: on wasm a step of 1024 points costs little more than one of 256). */
  batch?: number;
  /** Adam's learning rate (default 10⁻²). */
  lr?: number;
  config?: PointMlpConfig;
}

/** Measures of one sampling run of both models. */
export interface SideMeasures {
  /** pathStraightness of the recorded paths (0: straight). */
  straightness: number;
  /** Energy distance of the samples to the reference points. */
  energy: number;
  nfe: number;
}

export const REFERENCE_POINTS = 1000;
/** The step counts of the sweep, as N falls. */
export const SWEEP_STEPS = [100, 50, 20, 10, 5, 2, 1] as const;

/** EMA decay of the weights the playground samples with (Polyak averaging; horizon ≈ 200 steps). */
export const EMA_DECAY = 0.995;

/**
 * One side of the playground: the trained network, its Adam, and an exponential moving average of its weights
 * (ema ← d·ema + (1 − d)·θ after each step, d = min(EMA_DECAY, (1 + k)/(10 + k)) at step k, as in Ho et al. 2020's
 * code), which is what samples and fields are drawn from: constant-rate Adam on these noisy regressions leaves the
 * weights jittering around the fit, and the average removes the jitter.
 */
export class TrainedMlp {
  readonly net: PointMlp;
  readonly ema: PointMlp;
  private adam: FusedAdam;
  private steps = 0;

  constructor(seed: number, config: PointMlpConfig | undefined, readonly lr: number) {
    this.net = createPointMlp(seed, config);
    this.ema = createPointMlp(seed, config);
    this.adam = new FusedAdam([...this.net.params.variables.values()], { lr });
  }

  /** One Adam step on `loss`, then the average. Returns the loss before the step (caller disposes). */
  step(loss: () => tf.Scalar): tf.Scalar {
    const value = this.adam.minimize(loss);
    this.steps++;
    const d = Math.min(EMA_DECAY, (1 + this.steps) / (10 + this.steps));
    tf.tidy(() => {
      for (const [name, w] of this.net.params.variables) {
        const e = this.ema.params.variables.get(name)!;
        e.assign(tf.add(tf.mul(e, d), tf.mul(w, 1 - d)));
      }
    });
    return value;
  }

  /** Fresh Adam moments (reflow starts a new optimisation on new pairs). */
  resetOptimizer(): void {
    this.adam.dispose();
    this.adam = new FusedAdam([...this.net.params.variables.values()], { lr: this.lr });
  }

  dispose(): void {
    this.adam.dispose();
    this.net.dispose();
    this.ema.dispose();
  }
}

/**
 * Two networks with the same initial weights (the seed), each with its own Adam: the diffusion one trained with the
 * ε-loss, the flow one with the flow-matching loss, on the same batch of target points each tick. After `reflow`
 * the flow trains on fixed (x̂₀, ε) pairs of its own samples instead. Samples, fields and reflow pairs come from the
 * weights' moving averages. Owns its tensors until `dispose`.
 */
export class FlowPlayground {
  readonly schedule = makeSchedule('linear', 1000);
  readonly preset: Preset;
  readonly seed: number;
  readonly custom: Float32Array | undefined;
  readonly batch: number;
  readonly lr: number;
  readonly config: PointMlpConfig;
  readonly diffusion: TrainedMlp;
  flow: TrainedMlp;
  /** 1000 target points from their own stream: what samples are measured against. */
  readonly reference: Float32Array;
  step = 0;
  /** Reflow rounds taken. */
  reflows = 0;
  /** The pairs the flow trains on after a reflow (x̂₀ = samples, ε = noise), null before. */
  pairs: { noise: Float32Array; samples: Float32Array; count: number } | null = null;
  private readonly dataRng: Rng;
  private readonly diffusionRng: Rng;
  private readonly flowRng: Rng;

  constructor(opts: PlaygroundOptions) {
    this.preset = opts.preset;
    this.seed = opts.seed;
    this.custom = opts.custom ? Float32Array.from(opts.custom) : undefined;
    this.batch = opts.batch ?? 1024;
    this.lr = opts.lr ?? 1e-2;
    this.config = opts.config ?? POINT_MLP;
    this.diffusion = new TrainedMlp(opts.seed, this.config, this.lr);
    this.flow = new TrainedMlp(opts.seed, this.config, this.lr);
    this.dataRng = makeRng(fork(opts.seed, 'playground:data'));
    this.diffusionRng = makeRng(fork(opts.seed, 'playground:diffusion'));
    this.flowRng = makeRng(fork(opts.seed, 'playground:flow'));
    this.reference = sampleTarget(opts.preset, REFERENCE_POINTS, fork(opts.seed, 'playground:reference'), this.custom);
  }

  /** The flow's draws for one step: s and ε from its stream, x₀ the given batch or, after reflow, a batch of pairs. */
  private flowBatch(x0: Float32Array): { x0: Float32Array; draws: FlowDraws } {
    const shape = [this.batch, 1, 1, 2] as const;
    if (!this.pairs) return { x0, draws: drawFlow(this.flowRng, shape, undefined, 0, 0) };
    const { noise, samples, count } = this.pairs;
    const x = new Float32Array(2 * this.batch);
    const eps = new Float32Array(2 * this.batch);
    const s = new Float32Array(this.batch);
    for (let i = 0; i < this.batch; i++) {
      const k = this.flowRng.uniformInt(count);
      x[2 * i] = samples[2 * k];
      x[2 * i + 1] = samples[2 * k + 1];
      eps[2 * i] = noise[2 * k];
      eps[2 * i + 1] = noise[2 * k + 1];
      s[i] = 1 - this.flowRng.uniform();
    }
    return { x0: x, draws: { s, eps } };
  }

  /** One Adam step of each network on one batch of target points. Returns both losses before the step (caller disposes). */
  tick(): { diffusion: tf.Scalar; flow: tf.Scalar } {
    const shape = [this.batch, 1, 1, 2] as const;
    const points = drawTarget(this.preset, this.batch, this.dataRng, this.custom);
    const dDraws = drawTraining(this.diffusionRng, shape, this.schedule.T, undefined, 0, 0);
    const { x0: flowX0, draws: fDraws } = this.flowBatch(points);
    const x0 = tf.tensor4d(points, [...shape]);
    const fx0 = flowX0 === points ? x0 : tf.tensor4d(flowX0, [...shape]);
    try {
      const diffusion = this.diffusion.step(() => epsLoss(this.diffusion.net, this.schedule, x0, dDraws));
      const flow = this.flow.step(() => flowLoss(this.flow.net.model, fx0, fDraws));
      this.step++;
      return { diffusion, flow };
    } finally {
      x0.dispose();
      if (fx0 !== x0) fx0.dispose();
    }
  }

  /** `n` standard normal points (x_T) from `seed`: the same start for both models. */
  static noise(n: number, seed: number): Float32Array {
    return makeNoise(fork(seed, 'playground:xT')).normalArray(2 * n);
  }

  /** Sample both models from the same x_T. */
  async sample(xT: Float32Array, opts: SampleOptions): Promise<Record<Side, SampleRun>> {
    const diffusion = await sampleDiffusion(this.diffusion.ema.model, this.schedule, xT, opts);
    const flow = await sampleFlow(this.flow.ema.model, xT, opts);
    return { diffusion, flow };
  }

  /** Straightness (in the straight path's coordinates) and energy distance to the reference of one run. */
  measure(run: SampleRun): SideMeasures {
    const n = run.frames[0].length / 2;
    const last = run.frames[run.frames.length - 1];
    return { straightness: pathStraightness(run.frames, n, 2), energy: energyDistance(last, n, this.reference, REFERENCE_POINTS, 2), nfe: run.nfe };
  }

  /**
   * The velocity field at straight-path time s on a g × g grid over [−VIEW, VIEW]²: the flow's v_θ(y, s) and the
   * diffusion model's implied v̂ at the timestep nearest to s. Interleaved (vx, vy) per grid point, row by row from
   * the top left (y = +VIEW); also the timestep used.
   */
  async field(s: number, g: number): Promise<{ points: Float32Array; flow: Float32Array; diffusion: Float32Array; t: number }> {
    const points = gridPoints(g);
    const t = timestepOfS(this.schedule, s);
    const [flow, diffusion] = tf.tidy(() => {
      const y = tf.tensor4d(points, [g * g, 1, 1, 2]);
      return [this.flow.ema.model(y, tf.fill([g * g], FLOW_T * s, 'float32') as tf.Tensor1D), impliedVelocity(this.diffusion.ema.model, this.schedule, y, t)];
    });
    try {
      return { points, flow: Float32Array.from(await flow.data()), diffusion: Float32Array.from(await diffusion.data()), t };
    } finally {
      flow.dispose();
      diffusion.dispose();
    }
  }

  /**
   * Reflow (Liu et al. 2023, §2.3): `count` pairs (ε, x̂₀ = Φ(ε)) of the current flow by `steps` Heun steps, from a
   * stream of the seed and the round; the flow goes on training (fresh Adam moments, or fresh weights with `fresh`)
   * on those fixed pairs.
   */
  async reflow(opts: { count?: number; steps?: number; fresh?: boolean } = {}): Promise<void> {
    const count = opts.count ?? 4000;
    const field = unconditional(this.flow.ema.model);
    const pairs = await reflowPairs(field, count, [1, 1, 2], { seed: fork(this.seed, `playground:reflow${this.reflows}`), steps: opts.steps ?? 50, sampler: 'heun' });
    this.pairs = { ...pairs, count };
    this.reflows++;
    if (opts.fresh) {
      this.flow.dispose();
      this.flow = new TrainedMlp(fork(this.seed, `playground:flow${this.reflows}`), this.config, this.lr);
    } else this.flow.resetOptimizer();
  }

  /** Both models' measures as N runs over SWEEP_STEPS, from `n` points of x_T (seed `seed`). */
  async sweep(n: number, seed: number, opts: { sampler?: FlowSamplerName; signal?: AbortSignal; onStep?: () => Promise<void> | void } = {}): Promise<{ steps: number[]; diffusion: SideMeasures[]; flow: SideMeasures[] }> {
    const xT = FlowPlayground.noise(n, seed);
    const out = { steps: [...SWEEP_STEPS] as number[], diffusion: [] as SideMeasures[], flow: [] as SideMeasures[] };
    for (const steps of SWEEP_STEPS) {
      const runs = await this.sample(xT, { steps, sampler: opts.sampler, signal: opts.signal, onStep: opts.onStep });
      out.diffusion.push(this.measure(runs.diffusion));
      out.flow.push(this.measure(runs.flow));
    }
    return out;
  }

  /** Parameters of one network. */
  paramCount(): number {
    return this.flow.net.params.count();
  }

  dispose(): void {
    this.diffusion.dispose();
    this.flow.dispose();
  }
}

/** g × g points over [−VIEW, VIEW]², row by row from the top left. */
export function gridPoints(g: number): Float32Array {
  const out = new Float32Array(2 * g * g);
  for (let r = 0; r < g; r++) {
    for (let c = 0; c < g; c++) {
      out[2 * (r * g + c)] = -VIEW + (2 * VIEW * c) / (g - 1);
      out[2 * (r * g + c) + 1] = VIEW - (2 * VIEW * r) / (g - 1);
    }
  }
  return out;
}
