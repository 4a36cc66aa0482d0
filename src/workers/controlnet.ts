/**
 * The ControlNet lab's worker side (Zhang, Rao & Agrawala 2023; src/core/controlnet.ts):
 *
 *   hint (packMask text) ─ unpackMask ─ [1, 28, 28, 1] 0/1 skeleton
 *   z_T ~ N(0, I) [samples, 7, 7, 4] ─ DDIM over classifier-free guidance of the controlled model ─ z_0 ─ decoder ─ digits
 *   controlled model: the frozen latent-mnist denoiser, its skips and middle + λ · the ControlNet's residuals
 *
 * The same run reports what the trainable copy adds: the hint features f = Z_hint(HintEncoder(c)) added to the copy's
 * stem, and the residuals λ·Z_skip0(·) and λ·Z_mid(·) added to the frozen U-Net, each as a 7×7 map of the
 * per-position L2 norm over channels. The residuals are read inside the sampling run itself (a ControlNet whose
 * `residuals` records before it returns), for the conditional half of each guided batch ([c; ∅], Ho & Salimans 2022),
 * averaged over the samples and the steps on the device, and read back once at the end.
 */
import * as tf from '@tensorflow/tfjs-core';
import { decodeScaled } from '../core/autoencoder';
import { unpackMask } from '../core/control';
import { controlledModel, hintTensor, type ControlNet } from '../core/controlnet';
import { classifierFreeGuidance } from '../core/guidance';
import { makeNoise } from '../core/noise';
import { samplers } from '../core/samplers';
import type { ControlResiduals } from '../core/unet';
import type { ComputeApi, ResidualMaps } from './api';
import { ParamError } from './params';
import { readAll } from './readback';
import type { Resources } from './resources';
import { yieldToEvents } from './trainingSession';

type Clean = ComputeApi['controlnet']['clean'];
type Result = ComputeApi['controlnet']['result'];
type Ctx = { signal: AbortSignal; progress: (data: ComputeApi['controlnet']['progress']) => void };

/** The 784-pixel 0/1 hint of a request: packMask's text, or a ParamError naming the parameter. */
export function requestHint(text: string): Uint8Array {
  const hint = unpackMask(text);
  if (!hint) {
    const shown = text.length > 24 ? `${text.slice(0, 24)}…` : text;
    throw new ParamError('controlnet', 'hint', `must be a 28×28 mask packed as 131 base64url characters (packMask), got ${JSON.stringify(shown)} (${text.length} characters)`);
  }
  return hint;
}

/** Per-position L2 norm over channels, mean over the first `rows` examples: [n, h, w, c] → [h, w]. Inside a tidy. */
function normMap(x: tf.Tensor4D, rows: number): tf.Tensor2D {
  const part = rows === x.shape[0] ? x : tf.slice(x, [0, 0, 0, 0], [rows, -1, -1, -1]);
  return tf.mean(tf.sqrt(tf.sum(tf.square(part), -1)), 0) as tf.Tensor2D;
}

/**
 * Sums the norm maps of λ·r_skip0 and λ·r_mid over the calls of a run (`record` runs inside the model's tidy; the
 * running sums are kept past it). Owns its sums until `dispose`.
 */
class ResidualRecorder {
  private sums: { skip0: tf.Tensor2D; mid: tf.Tensor2D } | null = null;
  calls = 0;

  constructor(private readonly scale: number) {}

  /** residuals of a batch [cond; uncond] of 2·rows (classifier-free guidance): the first `rows` are conditional. */
  record(r: ControlResiduals, rows: number): void {
    const maps = tf.tidy(() => ({ skip0: tf.mul(normMap(r.skips[0], rows), this.scale) as tf.Tensor2D, mid: tf.mul(normMap(r.mid, rows), this.scale) as tf.Tensor2D }));
    const prev = this.sums;
    this.sums = prev ? tf.tidy(() => ({ skip0: tf.add(prev.skip0, maps.skip0) as tf.Tensor2D, mid: tf.add(prev.mid, maps.mid) as tf.Tensor2D })) : maps;
    tf.keep(this.sums.skip0);
    tf.keep(this.sums.mid);
    if (prev) tf.dispose([prev.skip0, prev.mid, maps.skip0, maps.mid]);
    this.calls++;
  }

  /** The mean maps over the recorded calls (zeros when none: λ = 0 adds nothing). New tensors. */
  means(h: number, w: number): { skip0: tf.Tensor2D; mid: tf.Tensor2D } {
    const sums = this.sums;
    if (!sums) return { skip0: tf.zeros([h, w]), mid: tf.zeros([h, w]) };
    return tf.tidy(() => ({ skip0: tf.div(sums.skip0, this.calls) as tf.Tensor2D, mid: tf.div(sums.mid, this.calls) as tf.Tensor2D }));
  }

  dispose(): void {
    if (this.sums) tf.dispose([this.sums.skip0, this.sums.mid]);
    this.sums = null;
  }
}

/** The largest value of a map (0 for an empty one). */
function maxOf(values: Float32Array): number {
  let m = 0;
  for (const v of values) if (v > m) m = v;
  return m;
}

/** The controlnet handler (clean params in, plain data out). */
export function createControlNetHandler(res: Resources) {
  return async ({ model, digit, scale, w, steps, seed, samples, hint: packed }: Clean, { signal, progress }: Ctx): Promise<Result> => {
    const hint = requestHint(packed);
    return res.withFallback(async () => {
      const { net, metadata, latent: lm } = await res.controlnet(model);
      const start = performance.now();
      const [h, wd, ch] = lm.unet.config.inputShape;
      const k = lm.unet.config.numClasses;
      const recorder = new ResidualRecorder(scale);
      // The ControlNet as the controlled model sees it, recording the residuals it hands over.
      const recording: ControlNet = {
        ...net,
        residuals: (x, t, classes, context, hints) => {
          const r = net.residuals(x, t, classes, context, hints);
          recorder.record(r, x.shape[0] / 2);
          return r;
        },
      };
      const hintT = hintTensor(hint, 1);
      const noise = makeNoise(seed);
      const zT = noise.normal([samples, h, wd, ch]) as tf.Tensor4D;
      let z: tf.Tensor4D | null = null;
      try {
        const denoiser = classifierFreeGuidance(controlledModel(lm.unet, recording, hintT, scale), { classes: digit, w, nullClass: k });
        let nfe = 0;
        z = await samplers.ddim(
          (x, t) => {
            nfe++;
            return denoiser(x, t);
          },
          zT,
          lm.schedule,
          {
            noise,
            steps,
            eta: 0,
            signal,
            onStep: async (info) => {
              progress({ done: info.index + 1, steps: info.steps, t: info.tPrev, elapsedMs: performance.now() - start });
              await yieldToEvents();
            },
          },
        );
        const x = decodeScaled(lm, z);
        const [gh, gw] = [h, wd];
        const { skip0, mid } = recorder.means(gh, gw);
        const hintMap = tf.tidy(() => normMap(net.hintFeatures(hintT), 1));
        const [images, hintValues, skipValues, midValues] = await readAll([x, hintMap, skip0, mid]);
        const maps: ResidualMaps = { hint: hintValues, skip0: skipValues, mid: midValues };
        return {
          images,
          hint,
          maps,
          max: { hint: maxOf(maps.hint), skip0: maxOf(maps.skip0), mid: maxOf(maps.mid) },
          mapShape: [gh, gw] as [number, number],
          nfe,
          elapsedMs: performance.now() - start,
          modelName: metadata.name,
        };
      } finally {
        tf.dispose([zT, hintT]);
        z?.dispose();
        recorder.dispose();
      }
    });
  };
}
