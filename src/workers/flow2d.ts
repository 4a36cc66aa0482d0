/**
 * The 2-D flow playground's worker side (src/core/flow2d.ts): one FlowPlayground session at a time, like the training
 * lab's (lab.ts) — created for a preset and a seed, trained in a loop that yields to the message queue between steps
 * (so a pause or a cancel lands at once) and reports both losses, sampled from one seeded x_T with every intermediate
 * position kept, its velocity fields drawn on a grid, reflowed, and measured as the number of steps falls.
 *
 * When the backend breaks mid-run, the session's tensors are gone with it: the controller moves one rung down the
 * ladder, starts the session again from its preset and seed, and says so in the error.
 */
import type { Scalar } from '@tensorflow/tfjs-core';
import { currentBackend, type BackendName } from '../core/backends';
import { FlowPlayground, type SampleRun, type Side } from '../core/flow2d';
import type { Preset } from '../core/flow2dData';
import type { FlowSamplerName } from '../core/samplers/flow';
import { isBackendFailure, type Resources } from './resources';
import { yieldToEvents } from './trainingSession';

// ---- what the page receives ------------------------------------------------------------------------------------

/** The session as the page knows it. */
export interface Flow2dInfo {
  preset: Preset;
  seed: number;
  /** Training steps taken (each one Adam step of both networks). */
  step: number;
  /** Reflow rounds taken. */
  reflows: number;
  /** Parameters of one network (both have the same). */
  paramCount: number;
  batch: number;
  /** [step, diffusion loss, flow loss] readings (means over each report's steps). */
  lossHistory: [number, number, number][];
  backend: BackendName | null;
}

/** A training report: the mean losses over the steps since the last one. */
export interface Flow2dProgress {
  step: number;
  diffusion: number;
  flow: number;
  /** Reflow: 'pairs' while the pairs are generated, then 'training'. */
  phase: 'pairs' | 'training';
  elapsedMs: number;
}

/** One model's sampling run. */
export interface Flow2dPaths {
  /** The recorded positions in the straight path's coordinates, frame after frame: [(steps + 1) × count × 2]. */
  frames: Float32Array;
  /** The straight-path time s of each frame (1 … 0). */
  times: number[];
  /** Mean extra length of the paths over their straight segments (pathStraightness; 0 = straight). */
  straightness: number;
  /** Energy distance of the samples to 1,000 points of the target. */
  energy: number;
  nfe: number;
}

export interface Flow2dSample {
  count: number;
  steps: number;
  diffusion: Flow2dPaths & {
    /** The same paths' straightness in the diffusion model's own coordinates x_t. */
    straightnessNative: number;
  };
  flow: Flow2dPaths;
  /** The 1,000 reference points of the target the energy distance is measured against. */
  reference: Float32Array;
  /** The training step the samples were drawn at. */
  step: number;
  reflows: number;
}

export interface Flow2dField {
  s: number;
  grid: number;
  /** Grid points [grid² × 2], row by row from the top left. */
  points: Float32Array;
  /** v at each point [grid² × 2]: the flow's and the velocity the diffusion model implies. */
  flow: Float32Array;
  diffusion: Float32Array;
  /** The diffusion timestep nearest to s. */
  t: number;
  step: number;
}

export interface Flow2dSweep {
  /** N = 100, 50, 20, 10, 5, 2, 1. */
  steps: number[];
  diffusion: { energy: number[]; straightness: number[]; nfe: number[] };
  flow: { energy: number[]; straightness: number[]; nfe: number[] };
  step: number;
  reflows: number;
}

/** Results and progress of the playground's requests (the catalogue's Results and Progress include these). */
export interface Flow2dResults {
  'flow2d.create': Flow2dInfo;
  'flow2d.train': Flow2dInfo;
  'flow2d.pause': Flow2dInfo;
  'flow2d.info': Flow2dInfo;
  'flow2d.reset': { ok: true };
  'flow2d.sample': Flow2dSample;
  'flow2d.field': Flow2dField;
  'flow2d.reflow': Flow2dInfo;
  'flow2d.sweep': Flow2dSweep;
}
export interface Flow2dProgressOf {
  'flow2d.train': Flow2dProgress;
  'flow2d.reflow': Flow2dProgress;
}

// ---- clean parameters (as the catalogue declares them) -------------------------------------------------------

export interface Flow2dCreate {
  preset: Preset;
  seed: number;
  points?: Float32Array;
}
export interface Flow2dTrain {
  steps: number;
  lossEvery: number;
}
export interface Flow2dSampleParams {
  steps: number;
  sampler: FlowSamplerName;
  count: number;
  seed: number;
}
export interface Flow2dFieldParams {
  s: number;
  grid: number;
}
export interface Flow2dReflow extends Flow2dTrain {
  pairs: number;
  pairSteps: number;
  /** Train a flow with new weights on the pairs (Liu et al.'s reflow), else go on from the trained flow's. */
  fresh: boolean;
}
export interface Flow2dSweepParams {
  count: number;
  seed: number;
  sampler: FlowSamplerName;
}

type Report = (p: Flow2dProgress) => void;

const NO_SESSION = 'the playground has no models yet: press Train first';

/** Frames one after another in one array. */
function concat(frames: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

export class Flow2dController {
  private session: FlowPlayground | null = null;
  private settings: Flow2dCreate | null = null;
  private lossHistory: [number, number, number][] = [];
  private elapsedMs = 0;
  private running: { stop: AbortController; finished: Promise<unknown> } | null = null;

  constructor(private readonly res: Resources) {}

  private current(): FlowPlayground {
    if (!this.session) throw new Error(NO_SESSION);
    return this.session;
  }

  info(): Flow2dInfo {
    const s = this.current();
    return {
      preset: s.preset,
      seed: s.seed,
      step: s.step,
      reflows: s.reflows,
      paramCount: s.paramCount(),
      batch: s.batch,
      lossHistory: this.lossHistory.map((r) => [...r] as [number, number, number]),
      backend: currentBackend(),
    };
  }

  private replace(next: FlowPlayground | null): void {
    this.session?.dispose();
    this.session = next;
    this.lossHistory = [];
    this.elapsedMs = 0;
  }

  /** Stop the running loop, if any, and wait for it to settle. */
  private async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.stop.abort();
    await running.finished.catch(() => {});
  }

  /** Run `work`; when the backend breaks, fall back a rung and start the session again from its settings. */
  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    await this.res.ensureBackend();
    try {
      return await work();
    } catch (e) {
      const from = currentBackend();
      if (!from || !isBackendFailure(e) || !this.settings) throw e;
      const to = await this.res.fallback(from, e instanceof Error ? e.message : String(e));
      try {
        this.session?.dispose();
      } catch {
        /* the lost backend may refuse */
      }
      this.session = null;
      this.replace(new FlowPlayground({ preset: this.settings.preset, seed: this.settings.seed, custom: this.settings.points }));
      throw new Error(`${from} stopped working, so the playground started again on ${to}: press Train to train the models again`);
    }
  }

  async create(p: Flow2dCreate): Promise<Flow2dInfo> {
    await this.res.ensureBackend();
    await this.stop();
    this.settings = { preset: p.preset, seed: p.seed, points: p.points ? Float32Array.from(p.points) : undefined };
    this.replace(new FlowPlayground({ preset: p.preset, seed: p.seed, custom: p.points }));
    return this.info();
  }

  /** Train both networks `steps` steps (or until `signal` aborts: a cancel or a pause). */
  async train(p: Flow2dTrain, signal: AbortSignal, progress: Report): Promise<Flow2dInfo> {
    return this.exclusive(signal, (stop) => this.loop(p, stop, progress));
  }

  /** Reflow: pairs from the current flow, then `steps` steps with the flow on them. */
  async reflow(p: Flow2dReflow, signal: AbortSignal, progress: Report): Promise<Flow2dInfo> {
    return this.exclusive(signal, async (stop) => {
      const s = this.current();
      progress({ step: s.step, diffusion: NaN, flow: NaN, phase: 'pairs', elapsedMs: this.elapsedMs });
      await s.reflow({ count: p.pairs, steps: p.pairSteps, fresh: p.fresh });
      return this.loop(p, stop, progress);
    });
  }

  /** One loop at a time: a new one stops the old one first; `signal` (the request's cancel) stops this one. */
  private async exclusive(signal: AbortSignal, body: (stop: AbortSignal) => Promise<Flow2dInfo>): Promise<Flow2dInfo> {
    this.current();
    await this.stop();
    const stop = new AbortController();
    const onCancel = () => stop.abort();
    signal.addEventListener('abort', onCancel);
    const finished = this.guarded(() => body(stop.signal));
    this.running = { stop, finished };
    try {
      return await finished;
    } finally {
      signal.removeEventListener('abort', onCancel);
      if (this.running?.finished === finished) this.running = null;
    }
  }

  private async loop({ steps, lossEvery }: Flow2dTrain, signal: AbortSignal, progress: Report): Promise<Flow2dInfo> {
    const s = this.current();
    const stopAt = s.step + steps;
    let window: { diffusion: Scalar; flow: Scalar }[] = [];
    let windowStart = performance.now();
    const flush = async () => {
      if (window.length === 0) return;
      const taken = window;
      window = [];
      const values = await Promise.all(taken.map(async (l) => [(await l.diffusion.data())[0], (await l.flow.data())[0]]));
      for (const l of taken) {
        l.diffusion.dispose();
        l.flow.dispose();
      }
      const now = performance.now();
      this.elapsedMs += now - windowStart;
      windowStart = now;
      const diffusion = values.reduce((a, v) => a + v[0], 0) / values.length;
      const flow = values.reduce((a, v) => a + v[1], 0) / values.length;
      if (!Number.isFinite(diffusion) || !Number.isFinite(flow)) throw new Error('a loss became infinite: training diverged; press Reset to start again');
      this.lossHistory.push([s.step, diffusion, flow]);
      progress({ step: s.step, diffusion, flow, phase: 'training', elapsedMs: this.elapsedMs });
    };
    try {
      while (!signal.aborted && s.step < stopAt) {
        window.push(s.tick());
        if (window.length >= lossEvery) await flush();
        await yieldToEvents();
      }
      await flush();
    } finally {
      for (const l of window) {
        l.diffusion.dispose();
        l.flow.dispose();
      }
    }
    return this.info();
  }

  async pause(): Promise<Flow2dInfo> {
    await this.stop();
    return this.info();
  }

  async sample({ steps, sampler, count, seed }: Flow2dSampleParams, signal: AbortSignal): Promise<Flow2dSample> {
    return this.guarded(async () => {
      const s = this.current();
      const xT = FlowPlayground.noise(count, seed);
      const runs = await s.sample(xT, { steps, sampler, signal, onStep: () => yieldToEvents() });
      const paths = (run: SampleRun) => ({ frames: concat(run.frames), times: run.times, ...s.measure(run) });
      const native = runs.diffusion.nativeFrames!;
      return {
        count,
        steps,
        diffusion: { ...paths(runs.diffusion), straightnessNative: s.measure({ ...runs.diffusion, frames: native }).straightness },
        flow: paths(runs.flow),
        reference: s.reference.slice(),
        step: s.step,
        reflows: s.reflows,
      };
    });
  }

  async field({ s, grid }: Flow2dFieldParams): Promise<Flow2dField> {
    return this.guarded(async () => {
      const pg = this.current();
      const f = await pg.field(s, grid);
      return { s, grid, ...f, step: pg.step };
    });
  }

  async sweep({ count, seed, sampler }: Flow2dSweepParams, signal: AbortSignal): Promise<Flow2dSweep> {
    return this.guarded(async () => {
      const pg = this.current();
      const r = await pg.sweep(count, seed, { sampler, signal, onStep: () => yieldToEvents() });
      const side = (k: Side) => ({ energy: r[k].map((m) => m.energy), straightness: r[k].map((m) => m.straightness), nfe: r[k].map((m) => m.nfe) });
      return { steps: r.steps, diffusion: side('diffusion'), flow: side('flow'), step: pg.step, reflows: pg.reflows };
    });
  }

  async reset(): Promise<{ ok: true }> {
    await this.stop();
    this.replace(null);
    this.settings = null;
    return { ok: true };
  }
}
