/**
 * The training lab's controller in the compute worker: one TrainingSession at a time, the running loop (so a
 * pause can stop it and wait), an in-memory checkpoint every 100 steps, and recovery from a broken backend —
 * the session is rebuilt from that checkpoint on the next backend of the ladder and training goes on.
 */
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../core/checkpoint';
import { currentBackend } from '../core/backends';
import type { LoadedUNet } from '../core/models';
import { REQUESTS, type ComputeApi, type LabInfo, type LabSettings } from './api';
import { cleanParams } from './params';
import { isBackendFailure, type Resources } from './resources';
import { labConfigProblem, TrainingSession } from './trainingSession';

type Clean<K extends keyof ComputeApi> = ComputeApi[K]['clean'];

/** Faults a test injects (production code passes none). */
export interface LabFaults {
  /** Called before each training step with the steps done in this run; throw to simulate a failure. */
  beforeStep?: (done: number) => void;
}

/** The lab's settings as lab.create declares them, less `pretrained`. */
const { pretrained: _pretrained, ...LAB_SETTINGS } = REQUESTS['lab.create'];

const NO_MODEL = 'the training lab has no model: press Start first';
/** Steps between in-memory restore points. */
const RESTORE_EVERY = 100;

export class LabController {
  private session: TrainingSession | null = null;
  /** The last checkpoint taken in memory: where training resumes after a backend failure. */
  private lastGood: Checkpoint | null = null;
  private pretrained = false;
  private running: { stop: AbortController; finished: Promise<unknown> } | null = null;

  /**
   * @param saved reads the model the reader saved in this browser (the worker passes the IndexedDB store's
   *   loadCheckpoint; null when none is saved), so that any page can sample it as 'training-lab'.
   */
  constructor(
    private readonly res: Resources,
    private readonly faults: LabFaults = {},
    private readonly saved: () => Promise<{ bytes: Uint8Array } | null> = async () => null,
  ) {}

  private current(message = NO_MODEL): TrainingSession {
    if (!this.session) throw new Error(message);
    return this.session;
  }

  /** The session's network as a model other widgets can sample ('training-lab'). */
  model(): LoadedUNet {
    const { unet, schedule, config } = this.current('no model has been trained in this tab yet: start the training lab first');
    return { unet, schedule, metadata: { name: 'training-lab', config, schedule: { kind: schedule.kind, T: schedule.T } } };
  }

  /**
   * The lab's model for other widgets, on any page: this tab's session, or else the model saved in this browser,
   * restored into a paused session (as the lab's Restore button does).
   */
  async modelOrSaved(): Promise<LoadedUNet> {
    if (this.session) return this.model();
    const saved = await this.saved().catch(() => null);
    if (!saved) throw new Error('no model has been trained in this tab and none is saved in this browser: train one in the training lab (lesson 6) and press Save');
    if (!this.session) await this.restore({ bytes: saved.bytes, source: 'the model saved in this browser' });
    return this.model();
  }

  info(): LabInfo {
    const s = this.current();
    return { step: s.step, settings: s.settings, paramCount: s.unet.paramCount(), lossHistory: s.lossHistory, backend: currentBackend(), pretrained: this.pretrained };
  }

  private replace(next: TrainingSession | null, pretrained = false): void {
    this.session?.dispose();
    this.session = next;
    this.lastGood = null;
    this.pretrained = pretrained;
  }

  /** Stop the running loop, if any, and wait for it to settle. */
  private async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.stop.abort();
    await running.finished.catch(() => {});
  }

  async create({ pretrained, ...settings }: Clean<'lab.create'>): Promise<LabInfo> {
    await this.res.ensureBackend();
    const { train } = await this.res.mnist();
    await this.stop();
    if (pretrained) {
      const shipped = await this.res.unet('unet-mnist');
      const weights = await shipped.unet.getWeights();
      const s: LabSettings = { ...settings, size: 'small', schedule: shipped.metadata.schedule.kind };
      this.replace(new TrainingSession(s, train, shipped.metadata.config, weights), true);
    } else {
      this.replace(new TrainingSession(settings, train));
    }
    return this.info();
  }

  /** Train until `signal` aborts (a cancel or a pause) or `maxSteps` more steps are done. */
  async run(params: Clean<'lab.run'>, signal: AbortSignal, progress: (p: ComputeApi['lab.run']['progress']) => void): Promise<LabInfo> {
    await this.stop();
    const stop = new AbortController();
    const onCancel = () => stop.abort();
    signal.addEventListener('abort', onCancel);
    const finished = this.loop(params, stop.signal, progress);
    this.running = { stop, finished };
    try {
      return await finished;
    } finally {
      signal.removeEventListener('abort', onCancel);
      if (this.running?.finished === finished) this.running = null;
    }
  }

  private async loop({ maxSteps, lossEvery, sampleEvery }: Clean<'lab.run'>, signal: AbortSignal, progress: (p: ComputeApi['lab.run']['progress']) => void): Promise<LabInfo> {
    await this.res.ensureBackend();
    let remaining = maxSteps;
    for (;;) {
      const session = this.current();
      const startStep = session.step;
      this.lastGood ??= await session.checkpoint();
      try {
        await session.run({
          signal,
          maxSteps: remaining,
          lossEvery,
          sampleEvery,
          beforeStep: this.faults.beforeStep,
          onProgress: (p) => {
            progress(p);
            if (p.step - (this.lastGood?.state.step ?? 0) >= RESTORE_EVERY) void session.checkpoint().then((c) => (this.lastGood = c));
          },
        });
        return this.info();
      } catch (e) {
        const from = currentBackend();
        if (!from || !isBackendFailure(e) || signal.aborted) throw e;
        const good = this.lastGood ?? (await session.checkpoint().catch(() => null));
        if (!good) throw e;
        const reason = `${e instanceof Error ? e.message : String(e)}; resumed from step ${good.state.step}`;
        await this.res.fallback(from, reason);
        try {
          session.dispose();
        } catch {
          /* the lost backend may refuse */
        }
        this.session = TrainingSession.fromCheckpoint(good, (await this.res.mnist()).train, session.settings);
        this.lastGood = good;
        if (remaining !== undefined) remaining -= session.step - startStep;
      }
    }
  }

  async pause(): Promise<LabInfo> {
    await this.stop();
    return this.info();
  }

  async samples({ count, steps }: Clean<'lab.samples'>): Promise<{ images: Float32Array }> {
    return { images: await this.current().samples(count, steps) };
  }

  async checkpoint(): Promise<{ bytes: Uint8Array; step: number }> {
    const ck = await this.current('the training lab has no model to save').checkpoint();
    return { bytes: encodeCheckpoint(ck), step: ck.state.step };
  }

  async restore({ bytes, source }: Clean<'lab.restore'>): Promise<LabInfo> {
    await this.res.ensureBackend();
    const ck = decodeCheckpoint(bytes, source);
    let settings: LabSettings;
    try {
      // the lab's own declaration: out-of-range numbers are clamped (batchSize 5000 → 64), malformed ones refused
      settings = cleanParams('lab.restore', LAB_SETTINGS, ck.state.settings);
    } catch (e) {
      throw new Error(`${source} holds settings the lab cannot use (${e instanceof Error ? e.message : String(e)})`);
    }
    const problem = labConfigProblem(ck.metadata.config);
    if (problem) throw new Error(`${source} holds a U-Net the lab cannot train: ${problem}`);
    await this.stop();
    const { train } = await this.res.mnist();
    this.replace(TrainingSession.fromCheckpoint(ck, train, settings));
    return this.info();
  }

  async predict({ x, t }: Clean<'lab.predict'>): Promise<{ eps: Float32Array }> {
    return { eps: await this.current().predict(x, t) };
  }

  async reset(): Promise<{ ok: true }> {
    await this.stop();
    this.replace(null);
    return { ok: true };
  }
}
