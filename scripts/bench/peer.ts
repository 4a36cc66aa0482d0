/**
 * Bench section `peer`: the shipped unet-mnist U-Net (MNIST_UNET_CONFIG, batch 32) on our engine (tfjs 4.22 wasm with
 * the custom kernels, in Node) against the same network in PyTorch on CPU (scripts/bench/peer_torch.py), one thread
 * each. Times one forward pass (no gradients) and one training step (draws, x_t, forward, mean squared error,
 * backward, Adam), and writes forward_ratio and train_step_ratio (ours / PyTorch, process CPU time) to
 * bench/results/peer.json.
 *
 * Every lane is its own process speaking JSON lines (`info`, `forward`, `step`), and the lanes take turns, one
 * batch of repeats each, round after round, so load from other jobs on a shared machine falls on all of them alike.
 * `--baseline=<checkout>` adds a lane running another checkout's src/core (e.g. the main branch) with the same
 * harness: before and after in one run. `--profile` also times our forward pass and step per kernel name (the
 * engine's runKernel wrapped, process CPU time) and stores that table in the JSON.
 *
 * Faithfulness: the PyTorch model names each parameter as ours does; the bench fails unless both lists of names and
 * shapes are equal (so the parameter counts are too), then loads our initial weights into PyTorch and fails unless
 * both networks give the same ε̂ on the same inputs.
 *
 * PyTorch comes from Debian: `apt-get install -y python3-torch` (then /usr/bin/python3 has it), or any python with
 * torch named by PEER_PYTHON. Without it the section says how to install it and skips.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const TORCH_SCRIPT = join(HERE, 'peer_torch.py');
export const PEER_BATCH = 32;

export const INSTALL_HINT =
  'PyTorch is not installed, so the peer benchmark was skipped. Install it with `sudo apt-get install -y python3-torch` ' +
  '(Debian/Ubuntu; then /usr/bin/python3 has it) or `pip install torch`, or point PEER_PYTHON at a python that has it, and run `npm run bench -- peer` again.';

interface Timings {
  wall_ms: number[];
  cpu_ms: number[];
}

interface LaneInfo {
  param_count: number;
  params: [string, number[]][];
  [k: string]: unknown;
}

/** A child process answering one JSON line per JSON-line request. */
class Lane {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterableIterator<string>;
  private stderr = '';

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: Record<string, string>,
  ) {
    this.proc = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }

  async ask<T>(req: Record<string, unknown>): Promise<T> {
    this.proc.stdin.write(`${JSON.stringify(req)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`${this.name} stopped answering (${req.cmd}); its last output:\n${this.stderr}`);
    const res = JSON.parse(next.value) as T & { error?: string };
    if (res.error) throw new Error(`${this.name}: ${res.error}`);
    return res;
  }

  close(): void {
    this.proc.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
    setTimeout(() => this.proc.kill(), 2000).unref();
  }
}

/** The first python that can import torch: PEER_PYTHON alone when set, else Debian's /usr/bin/python3, then python3 on the PATH. */
export function findTorchPython(): { python: string; torch: string } | null {
  const candidates = process.env.PEER_PYTHON ? [process.env.PEER_PYTHON] : ['/usr/bin/python3', 'python3'];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python, torch: r.stdout.trim() };
  }
  return null;
}

/** Per kernel name: CPU ms and launches per forward pass / training step. */
type KernelProfile = Record<'forward' | 'step', { cpu_ms: number; launches: number; kernels: Record<string, { cpu_ms: number; launches: number }> }>;

function printProfile(p: KernelProfile): void {
  for (const kind of ['forward', 'step'] as const) {
    const { cpu_ms, launches, kernels } = p[kind];
    const inKernels = Object.values(kernels).reduce((a, k) => a + k.cpu_ms, 0);
    console.log(`ours, ${kind}: ${cpu_ms.toFixed(1)} cpu-ms, ${launches} kernel launches, ${inKernels.toFixed(1)} cpu-ms inside them; the largest:`);
    for (const [name, k] of Object.entries(kernels).sort((a, b) => b[1].cpu_ms - a[1].cpu_ms).slice(0, 12)) {
      console.log(`  ${name.padEnd(30)} ${k.cpu_ms.toFixed(2).padStart(7)} ms  ×${Math.round(k.launches)}`);
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Compare two lanes' parameter lists (name → shape); a readable list of differences, empty when equal. */
export function paramDifferences(ours: [string, number[]][], theirs: [string, number[]][]): string[] {
  const a = new Map(ours.map(([n, s]) => [n, s.join('×')]));
  const b = new Map(theirs.map(([n, s]) => [n, s.join('×')]));
  const out: string[] = [];
  for (const [n, s] of a) if (!b.has(n)) out.push(`${n} [${s}] only in ours`);
  else if (b.get(n) !== s) out.push(`${n}: ours [${s}], PyTorch [${b.get(n)}]`);
  for (const [n, s] of b) if (!a.has(n)) out.push(`${n} [${s}] only in PyTorch`);
  return out;
}

export interface PeerOptions {
  rounds: number;
  repeats: number;
  /** Also time our forward pass and step per kernel name (process CPU time, runKernel wrapped). */
  profile?: boolean;
  /** Another checkout whose src/core runs as a third lane ("before"). */
  baseline?: string;
}

export async function benchPeer(root: string, opts: PeerOptions): Promise<Record<string, unknown>> {
  const found = findTorchPython();
  if (!found) {
    console.log(INSTALL_HINT);
    return { description: 'skipped', skipped: INSTALL_HINT };
  }
  const self = fileURLToPath(import.meta.url);
  const nodeLane = (name: string, core: string) => new Lane(name, process.execPath, ['--import', 'tsx', self], { PEER_SERVE_CORE: core, PEER_BATCH: String(PEER_BATCH) });
  const lanes: Lane[] = [new Lane('pytorch', found.python, [TORCH_SCRIPT], { PEER_BATCH: String(PEER_BATCH), OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' }), nodeLane('ours', root)];
  if (opts.baseline) lanes.push(nodeLane('baseline', resolve(opts.baseline)));
  const scratch = mkdtempSync(join(os.tmpdir(), 'bench-peer-'));
  try {
    const infos = new Map<string, LaneInfo>();
    for (const lane of lanes) infos.set(lane.name, await lane.ask<LaneInfo>({ cmd: 'info' }));
    const ours = infos.get('ours') as LaneInfo;
    const torch = infos.get('pytorch') as LaneInfo;
    const diffs = paramDifferences(ours.params, torch.params);
    if (diffs.length > 0 || ours.param_count !== torch.param_count) {
      throw new Error(
        `the PyTorch model is not a copy of ours: ${ours.param_count} parameters here, ${torch.param_count} in PyTorch; ${diffs.slice(0, 10).join('; ')}`,
      );
    }
    // Same weights, same inputs: the same ε̂ (float32 on both sides, so a small tolerance).
    const sample = await lanes[1].ask<{ weights: Record<string, number[]>; x: number[]; t: number[]; classes: number[]; y: number[] }>({ cmd: 'sample' });
    const file = join(scratch, 'weights.json');
    writeFileSync(file, JSON.stringify(sample));
    const { y } = await lanes[0].ask<{ y: number[] }>({ cmd: 'check', file });
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < y.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(y[i] - sample.y[i]));
      maxAbs = Math.max(maxAbs, Math.abs(sample.y[i]));
    }
    if (y.length !== sample.y.length || !(maxDiff <= 1e-3 * Math.max(1, maxAbs))) {
      throw new Error(`the PyTorch model does not compute what ours does: max |Δε̂| = ${maxDiff} over ${y.length} outputs (|ε̂| up to ${maxAbs})`);
    }
    console.log(`models match: ${ours.param_count} parameters each, same names and shapes; same weights give max |Δε̂| = ${maxDiff.toExponential(1)}`);

    // Warm-up (the first wasm step also builds Adam's moments; torch allocates its state on the first step).
    for (const lane of lanes) {
      await lane.ask({ cmd: 'forward', repeats: 2 });
      await lane.ask({ cmd: 'step', repeats: 2 });
    }
    const samples = new Map<string, { forward: Timings; step: Timings }>(lanes.map((l) => [l.name, { forward: { wall_ms: [], cpu_ms: [] }, step: { wall_ms: [], cpu_ms: [] } }]));
    for (let r = 0; r < opts.rounds; r++) {
      // Rotate who goes first each round.
      for (let k = 0; k < lanes.length; k++) {
        const lane = lanes[(r + k) % lanes.length];
        const s = samples.get(lane.name)!;
        for (const kind of ['forward', 'step'] as const) {
          const t = await lane.ask<Timings>({ cmd: kind, repeats: opts.repeats });
          s[kind].wall_ms.push(...t.wall_ms);
          s[kind].cpu_ms.push(...t.cpu_ms);
        }
      }
    }
    const profile = opts.profile ? await lanes[1].ask<KernelProfile>({ cmd: 'profile', repeats: opts.repeats }) : undefined;
    if (profile) printProfile(profile);
    const med = Object.fromEntries(
      [...samples].map(([name, s]) => [
        name,
        { forward_cpu_ms: median(s.forward.cpu_ms), forward_wall_ms: median(s.forward.wall_ms), train_step_cpu_ms: median(s.step.cpu_ms), train_step_wall_ms: median(s.step.wall_ms) },
      ]),
    ) as Record<string, { forward_cpu_ms: number; forward_wall_ms: number; train_step_cpu_ms: number; train_step_wall_ms: number }>;
    const ratio = (lane: string) => ({
      forward: med[lane].forward_cpu_ms / med.pytorch.forward_cpu_ms,
      train_step: med[lane].train_step_cpu_ms / med.pytorch.train_step_cpu_ms,
      forward_wall: med[lane].forward_wall_ms / med.pytorch.forward_wall_ms,
      train_step_wall: med[lane].train_step_wall_ms / med.pytorch.train_step_wall_ms,
    });
    const oursRatio = ratio('ours');
    const rows = [['lane', 'forward cpu-ms', 'step cpu-ms', 'forward wall ms', 'step wall ms', 'forward / PyTorch', 'step / PyTorch']];
    for (const lane of lanes) {
      const m = med[lane.name];
      const q = ratio(lane.name);
      rows.push([lane.name, m.forward_cpu_ms.toFixed(1), m.train_step_cpu_ms.toFixed(1), m.forward_wall_ms.toFixed(1), m.train_step_wall_ms.toFixed(1), `${q.forward.toFixed(2)}×`, `${q.train_step.toFixed(2)}×`]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    console.log(rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n'));
    console.log(`load average (1 min) at the end: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`);
    return {
      description: 'unet-mnist (batch 32) forward pass and training step: our wasm engine in Node vs PyTorch on CPU, one thread each',
      forward_ratio: oursRatio.forward,
      train_step_ratio: oursRatio.train_step,
      wall_ratios: { forward: oursRatio.forward_wall, train_step: oursRatio.train_step_wall },
      ...(opts.baseline ? { baseline: { checkout: resolve(opts.baseline), forward_ratio: ratio('baseline').forward, train_step_ratio: ratio('baseline').train_step } } : {}),
      targets: { forward_ratio_max: 1.5, train_step_ratio_max: 1.5, met: { forward: oursRatio.forward <= 1.5, train_step: oursRatio.train_step <= 1.5 } },
      medians: med,
      batch: PEER_BATCH,
      param_count: ours.param_count,
      output_check: { max_abs_diff: maxDiff, outputs: y.length },
      lanes: Object.fromEntries([...infos].map(([name, info]) => [name, Object.fromEntries(Object.entries(info).filter(([k]) => k !== 'params'))])),
      pytorch: { python: found.python, torch: found.torch },
      machine: { node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, loadAverage1m: os.loadavg()[0], platform: `${os.platform()} ${os.release()}` },
      samples: Object.fromEntries(samples),
      ...(profile ? { profile } : {}),
      method:
        `one process per lane (PyTorch ${found.torch} with torch.set_num_threads(1); tfjs wasm in Node, single-threaded), ` +
        `2 warm-up forwards and steps each, then ${opts.rounds} rounds in which every lane runs ${opts.repeats} forwards and ${opts.repeats} steps in turn (the order rotating); ` +
        `medians of process CPU time (wall time also recorded). Forward: ε̂ for a fixed batch without gradients. Step: src/core/train.ts's step ` +
        `(t, label dropout, ε drawn; x_t; MSE; backward; Adam lr 1e-3 ε 1e-7) and its PyTorch copy. Ratios are ours / PyTorch.`,
    };
  } finally {
    for (const lane of lanes) lane.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Lane server: our U-Net from the checkout at PEER_SERVE_CORE, answering JSON lines on stdin. */
async function serveOurs(core: string): Promise<void> {
  const batch = Number(process.env.PEER_BATCH ?? PEER_BATCH);
  const mod = async <T>(rel: string) => (await import(pathToFileURL(join(core, rel)).href)) as T;
  const { enableTfjsCoreEsm } = await mod<typeof import('../lib/tfjsNode')>('scripts/lib/tfjsNode.ts');
  enableTfjsCoreEsm();
  const tf = await mod<typeof import('@tensorflow/tfjs-core')>('node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js');
  const { initBackend } = await mod<typeof import('../../src/core/backends')>('src/core/backends.ts');
  const { createUNet, MNIST_UNET_CONFIG } = await mod<typeof import('../../src/core/unet')>('src/core/unet.ts');
  const { createTrainer } = await mod<typeof import('../../src/core/train')>('src/core/train.ts');
  const { makeRng } = await mod<typeof import('../../src/core/noise')>('src/core/noise.ts');
  const { makeSchedule } = await mod<typeof import('../../src/core/schedules')>('src/core/schedules.ts');
  await initBackend({ order: ['wasm'] });
  const unet = createUNet(MNIST_UNET_CONFIG, 1);
  const trainer = createTrainer(unet, { schedule: makeSchedule('linear', 1000), rng: makeRng(2) });
  const rng = makeRng(3);
  const x0 = tf.tensor4d(Float32Array.from({ length: batch * 784 }, () => 2 * rng.uniform() - 1), [batch, 28, 28, 1]);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const xFixed = tf.tensor4d(Float32Array.from({ length: batch * 784 }, () => rng.normal()), [batch, 28, 28, 1]);
  const tArr = Int32Array.from({ length: batch }, (_, i) => 1 + ((i * 37) % 1000));
  const tFixed = tf.tensor1d(tArr, 'int32');
  const classes = tf.tensor1d(labels, 'int32');
  const forward = async () => {
    const y = unet.model(xFixed, tFixed, classes);
    await y.data();
    y.dispose();
  };
  const step = async () => {
    const loss = trainer.step(x0, labels);
    await loss.data();
    loss.dispose();
  };
  const timed = async (f: () => Promise<void>, repeats: number): Promise<Timings> => {
    const out: Timings = { wall_ms: [], cpu_ms: [] };
    for (let i = 0; i < repeats; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await f();
      out.wall_ms.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      out.cpu_ms.push((c.user + c.system) / 1000);
    }
    return out;
  };
  const reply = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line) as { cmd: string; repeats?: number };
    if (req.cmd === 'quit') break;
    if (req.cmd === 'info') {
      reply({ param_count: unet.paramCount(), params: [...unet.params].map(([n, v]) => [n, v.shape]), tfjs: tf.version_core, backend: tf.getBackend(), core: core, batch });
    } else if (req.cmd === 'sample') {
      const weights = Object.fromEntries(Object.entries(await unet.getWeights()).map(([n, w]) => [n, Array.from(w)]));
      const y = unet.model(xFixed, tFixed, classes);
      const yv = Array.from(await y.data());
      y.dispose();
      reply({ weights, x: Array.from(await xFixed.data()), t: Array.from(tArr), classes: Array.from(labels), y: yv });
    } else if (req.cmd === 'forward' || req.cmd === 'step') {
      reply(await timed(req.cmd === 'forward' ? forward : step, req.repeats ?? 1));
    } else if (req.cmd === 'profile') {
      // Wrap the engine's runKernel: outermost kernel calls only (a kernel that calls others counts once).
      const engine = tf.engine() as unknown as { runKernel(name: string, inputs: unknown, attrs: unknown): unknown };
      const original = engine.runKernel;
      const out: Record<string, { cpu_ms: number; launches: number; kernels: Record<string, { cpu_ms: number; launches: number }> }> = {};
      const repeats = req.repeats ?? 3;
      for (const [kind, f] of [['forward', forward], ['step', step]] as const) {
        const kernels: Record<string, { cpu_ms: number; launches: number }> = {};
        let depth = 0;
        engine.runKernel = function (this: unknown, name: string, inputs: unknown, attrs: unknown) {
          if (depth > 0) return original.call(this, name, inputs, attrs);
          depth++;
          const c0 = process.cpuUsage();
          try {
            return original.call(this, name, inputs, attrs);
          } finally {
            depth--;
            const c = process.cpuUsage(c0);
            const k = (kernels[name] ??= { cpu_ms: 0, launches: 0 });
            k.cpu_ms += (c.user + c.system) / 1000 / repeats;
            k.launches += 1 / repeats;
          }
        };
        try {
          const t = await timed(f, repeats);
          for (const k of Object.values(kernels)) k.launches = Math.round(k.launches);
          out[kind] = { cpu_ms: median(t.cpu_ms), launches: Object.values(kernels).reduce((a, k) => a + k.launches, 0), kernels };
        } finally {
          engine.runKernel = original;
        }
      }
      reply(out);
    } else {
      reply({ error: `unknown command '${req.cmd}'` });
    }
  }
  process.exit(0);
}

if (process.env.PEER_SERVE_CORE && process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await serveOurs(process.env.PEER_SERVE_CORE);
}
