/**
 * ε-prediction training (Ho et al. 2020, Algorithm 1) with classifier-free-guidance label dropout
 * (Ho & Salimans 2022): t ~ U{1, …, T}, ε ~ N(0, I), x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε,
 * L = mean ‖ε − ε_θ(x_t, t, c)‖², c replaced by ∅ with probability pUncond; one Adam step on L.
 *
 * All randomness comes from the `Rng` passed in (noise.ts), drawn in a fixed order per step:
 * N timesteps, then N dropout coins (conditional models only), then N·H·W·C normals.
 */
import * as tf from '@tensorflow/tfjs-core';
import './nn/registerGradients';
import { FusedAdam } from './adam';
import { qSample } from './forward';
import { dropLabels } from './guidance';
import type { Rng } from './noise';
import type { Schedule, TextContext } from './types';
import { createUNet, type UNet } from './unet';

export interface TrainerOptions {
  schedule: Schedule;
  /** Source of t, ε and label dropout. */
  rng: Rng;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Probability of replacing a label by the null class ∅ (default 0.1; ignored for unconditional models). */
  pUncond?: number;
  /** Linear learning-rate warm-up: step k (from 0) uses lr·min(1, (k + 1)/warmupSteps). 0 or absent: none. */
  warmupSteps?: number;
  /** Min-SNR-γ loss weights (see minSnrWeights); 0 or absent: none. */
  minSnrGamma?: number;
  /**
   * Keep an exponential moving average of the weights (`Trainer.ema`) with this decay, warmed up as
   * min(decay, (1 + k)/(10 + k)) at step k so the early average is not dominated by the initial weights. Absent: none.
   */
  emaDecay?: number;
}

/** The learning rate of step `k` (from 0) under a linear warm-up over `warmupSteps` steps. */
export function warmupLr(lr: number, k: number, warmupSteps: number | undefined): number {
  return warmupSteps !== undefined && warmupSteps > 0 ? (lr * Math.min(1, (k + 1) / warmupSteps)) : lr;
}

/** The EMA decay used after step `k` (from 0): min(decay, (1 + k)/(10 + k)). */
export function emaDecayAt(k: number, decay: number): number {
  return Math.min(decay, (1 + k) / (10 + k));
}

/** The random draws of one training step (plain data, so tests can inspect them). */
export interface TrainingDraws {
  /** t_i ∈ {1, …, T}. */
  t: Int32Array;
  /** Labels after dropout (id numClasses = ∅), or undefined for an unconditional model. */
  classes?: Int32Array;
  /** ε, N·H·W·C standard normals in NHWC order. */
  eps: Float32Array;
  /**
   * ξ for input perturbation (see epsLoss): N·H·W·C further standard normals, drawn after ε. Only present when
   * the caller asked drawTraining for them.
   */
  xi?: Float32Array;
}

/** Draw t, the dropped labels and ε for a batch of `shape` from `rng`, in the documented order. */
export function drawTraining(
  rng: Rng,
  shape: readonly [number, number, number, number],
  T: number,
  classes: ArrayLike<number> | undefined,
  numClasses: number,
  pUncond: number,
  opts: { xi?: boolean } = {},
): TrainingDraws {
  const [n, h, w, c] = shape;
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++) t[i] = 1 + rng.uniformInt(T);
  const dropped = dropLabels(rng, n, classes, numClasses, pUncond);
  const eps = new Float32Array(n * h * w * c);
  for (let i = 0; i < eps.length; i++) eps[i] = rng.normal();
  if (!opts.xi) return { t, classes: dropped, eps };
  const xi = new Float32Array(eps.length);
  for (let i = 0; i < xi.length; i++) xi[i] = rng.normal();
  return { t, classes: dropped, eps, xi };
}

/**
 * Min-SNR-γ loss weights for ε-prediction (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting
 * Strategy"): w_t = min(SNR_t, γ) / SNR_t with SNR_t = ᾱ_t / (1 − ᾱ_t). Steps with SNR ≤ γ keep weight 1 (how many
 * depends on γ and the schedule: for γ = 5 on the linear schedule, T = 1000, the 870 steps t ≥ 131; for γ = 1 on the
 * cosine schedule, the 504 steps t ≥ 497); the nearly clean steps, whose easy, noisy gradients otherwise pull against
 * the steps where a digit's shape and class are decided, count less. γ ≤ 0 or undefined gives weight 1 everywhere
 * (Ho et al.'s L_simple).
 */
export function minSnrWeights(schedule: Schedule, t: ArrayLike<number>, gamma: number | undefined): Float32Array {
  const w = new Float32Array(t.length).fill(1);
  if (!(gamma !== undefined && gamma > 0)) return w;
  for (let i = 0; i < t.length; i++) {
    const snr = schedule.snr[t[i]];
    if (snr > gamma) w[i] = gamma / snr;
  }
  return w;
}

export interface EpsLossOptions {
  /** Min-SNR-γ weighting (see minSnrWeights); 0 or undefined: none. */
  minSnrGamma?: number;
  /**
   * Input perturbation (Ning et al. 2023, "Input Perturbation Reduces Exposure Bias in Diffusion Models"): the
   * network sees x_t = √ᾱ_t x_0 + √(1−ᾱ_t) (ε + λ ξ) but is still asked for ε. At sampling time its input carries
   * the errors of earlier steps; training on slightly perturbed inputs teaches it to pull them back. λ is this
   * value (the paper uses 0.1); 0 or undefined: none. Needs draws.xi (drawTraining with { xi: true }).
   */
  inputPerturbation?: number;
  /** The prompts' token states for a text-conditioned U-Net (one row per example; the empty prompt for ∅). */
  context?: TextContext;
}

/**
 * L = mean (ε − ε_θ(x_t, t, c))² for given draws (Ho et al. 2020, eq. 14); with `minSnrGamma` each example's mean
 * squared error is weighted by min(SNR_t, γ)/SNR_t (see minSnrWeights) before the batch mean; with
 * `inputPerturbation` λ the input is noised with ε + λξ (see EpsLossOptions). Caller disposes.
 */
export function epsLoss(unet: Pick<UNet, 'model'>, schedule: Schedule, x0: tf.Tensor4D, draws: TrainingDraws, opts: EpsLossOptions = {}): tf.Scalar {
  const lambda = opts.inputPerturbation ?? 0;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`inputPerturbation must be a finite number ≥ 0, got ${lambda}`);
  if (lambda > 0 && (!draws.xi || draws.xi.length !== draws.eps.length))
    throw new Error('inputPerturbation needs draws.xi, as many normals as ε (drawTraining(…, { xi: true }))');
  return tf.tidy(() => {
    const eps = tf.tensor4d(draws.eps, x0.shape, 'float32');
    const inputNoise: tf.Tensor4D = lambda > 0 ? tf.add<tf.Tensor4D>(eps, tf.mul(tf.tensor4d(draws.xi!, x0.shape, 'float32'), lambda)) : eps;
    const xt = qSample(schedule, x0, draws.t, inputNoise);
    const t = tf.tensor1d(draws.t, 'int32');
    const classes = draws.classes ? tf.tensor1d(draws.classes, 'int32') : undefined;
    const sq = tf.squaredDifference(eps, unet.model(xt, t, classes, opts.context));
    if (!(opts.minSnrGamma !== undefined && opts.minSnrGamma > 0)) return tf.mean(sq) as tf.Scalar;
    const perExample = tf.mean(sq, [1, 2, 3]);
    return tf.mean(tf.mul(perExample, tf.tensor1d(minSnrWeights(schedule, draws.t, opts.minSnrGamma)))) as tf.Scalar;
  });
}

export interface Trainer {
  /**
   * One Adam step on a batch x_0 (NHWC, values in [−1, 1]) with optional labels (required for a useful
   * conditional model; omitted means ∅). Returns the loss before the update as a scalar the caller
   * disposes; read it with `await loss.data()` (never dataSync), as rarely as you like.
   */
  step(x0: tf.Tensor4D, classes?: ArrayLike<number>): tf.Scalar;
  /** Number of steps taken. */
  readonly steps: number;
  readonly optimizer: FusedAdam;
  /** The moving average of the weights (a U-Net of the same configuration), when `emaDecay` was given; else null. */
  readonly ema: UNet | null;
  /** Dispose the optimizer state and the average (the U-Net is not disposed). */
  dispose(): void;
}

export const DEFAULT_LR = 1e-3;
export const DEFAULT_P_UNCOND = 0.1;

/** A stateful wrapper around `epsLoss` + Adam for one U-Net. */
export function createTrainer(unet: UNet, opts: TrainerOptions): Trainer {
  const { schedule, rng } = opts;
  const lr = opts.lr ?? DEFAULT_LR;
  const pUncond = opts.pUncond ?? DEFAULT_P_UNCOND;
  if (!(pUncond >= 0 && pUncond <= 1)) throw new RangeError(`pUncond must be in [0, 1], got ${pUncond}`);
  const varList = Array.from(unet.params.values());
  const optimizer = new FusedAdam(varList, { lr: warmupLr(lr, 0, opts.warmupSteps) });
  const emaDecay = opts.emaDecay;
  if (emaDecay !== undefined && !(emaDecay >= 0 && emaDecay < 1)) throw new RangeError(`emaDecay must lie in [0, 1), got ${emaDecay}`);
  let ema: UNet | null = null;
  let emaPairs: [tf.Variable, tf.Variable][] = [];
  if (emaDecay !== undefined) {
    ema = createUNet(unet.config, 0);
    emaPairs = Array.from(unet.params, ([name, v]) => [ema!.params.get(name) as tf.Variable, v]);
    for (const [e, v] of emaPairs) e.assign(v);
  }
  let steps = 0;
  return {
    get steps() {
      return steps;
    },
    optimizer,
    ema,
    step(x0, classes) {
      if (classes !== undefined && classes.length !== x0.shape[0]) {
        throw new RangeError(`expected ${x0.shape[0]} class ids, got ${classes.length}`);
      }
      if (classes !== undefined && unet.config.numClasses === 0) throw new Error('class ids given to an unconditional U-Net');
      const draws = drawTraining(rng, x0.shape, schedule.T, classes, unet.config.numClasses, pUncond);
      optimizer.learningRate = warmupLr(lr, steps, opts.warmupSteps);
      const loss = optimizer.minimize(() => epsLoss(unet, schedule, x0, draws, { minSnrGamma: opts.minSnrGamma })); // minimize tidies
      if (emaDecay !== undefined) {
        const d = emaDecayAt(steps, emaDecay);
        tf.tidy(() => {
          for (const [e, v] of emaPairs) e.assign(tf.add(tf.mul(e, d), tf.mul(v, 1 - d)));
        });
      }
      steps++;
      return loss;
    },
    dispose() {
      optimizer.dispose();
      ema?.dispose();
    },
  };
}
