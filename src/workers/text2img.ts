/**
 * The prompt lab's worker side: Stable Diffusion's text-to-image pipeline at digit scale (src/core/textToImage.ts),
 * with every stage read back for the page.
 *
 *   prompt ─ tokenize ─ CLIP text encoder (clip-mnist) ─ token states [12, 64] + mask
 *   z_T ~ N(0, I) [count, 7, 7, 4] ─ DDIM or DPM-Solver++ 2M over prompt guidance of the cross-attention U-Net ─ z_0
 *   z_0 / latentScale ─ the latent-mnist autoencoder's decoder ─ 28×28 digits
 *   digits ─ classifier-mnist (which digit), measured thickness / slant / width, CLIP score (cosine to the prompt)
 *
 * Cross-attention maps come out of the sampling run itself (TextContext.onAttention): each layer's weights
 * [N', heads, 49, 12] are averaged over heads on the device for the prompt's rows only (under guidance the batch is
 * [prompt; negative], Ho & Salimans 2022), summed over every step for the mean map, and read back at the kept steps.
 *
 * The same model edits a digit for the image-to-image lab (img2img.prompt, `createPromptEditHandler`): Stable
 * Diffusion's img2img and inpaint pipelines, promptImg2img and promptInpaint of src/core/textToImage.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { decodeScaled } from '../core/autoencoder';
import { specMatches, styleClassOf, type CaptionSpec, parseCaption } from '../core/captions';
import { embed } from '../core/classifier';
import { encodeImage, textEmbedding } from '../core/clip';
import { MNIST_PIXELS } from '../core/mnistFormat';
import { makeNoise } from '../core/noise';
import { samplers } from '../core/samplers';
import { halfMask } from '../core/masks';
import { disposeContext, promptContext, promptDenoiser, promptImg2img, promptInpaint, type LatentTextModel } from '../core/textToImage';
import type { StepInfo, TextContext } from '../core/types';
import type { ComputeApi } from './api';
import { captionTokens, measured } from './clip';
import { readAll } from './readback';
import type { Resources } from './resources';
import { yieldToEvents } from './trainingSession';

type Clean = ComputeApi['text2img']['clean'];
type Result = ComputeApi['text2img']['result'];
type Ctx = { signal: AbortSignal; progress: (data: ComputeApi['text2img']['progress']) => void };

/** Where a text-to-image model's autoencoder and CLIP live, as folders under the site's models/. */
export interface Text2ImgRefs {
  /** e.g. 'latent-mnist/autoencoder' (plain names, one or more levels). */
  autoencoder: string;
  /** e.g. 'clip-mnist' (one plain name: the CLIP cache is keyed by it). */
  clip: string;
}

/**
 * Resolve model.json's `autoencoder` and `clip` (paths relative to the model's folder, '../latent-mnist/autoencoder/')
 * to folders under `modelsRoot`; anything missing, elsewhere or not made of plain names is refused, naming the file.
 */
export function text2imgRefs(metadata: Record<string, unknown>, modelUrl: string, modelsRoot: string): Text2ImgRefs {
  const file = `${modelUrl}model.json`;
  const folder = (key: 'autoencoder' | 'clip'): string => {
    const ref = metadata[key];
    if (typeof ref !== 'string' || !ref) throw new Error(`${file}: no ${key} folder (userDefinedMetadata.${key})`);
    const href = new URL(ref.replace(/\/?$/, '/'), modelUrl).href;
    const rel = href.startsWith(modelsRoot) ? href.slice(modelsRoot.length).replace(/\/$/, '') : '';
    if (!rel || !rel.split('/').every((part) => /^[a-z0-9][a-z0-9-]{0,63}$/.test(part))) {
      throw new Error(`${file}: the ${key} folder "${ref}" is not a model folder of this site`);
    }
    return rel;
  };
  const refs = { autoencoder: folder('autoencoder'), clip: folder('clip') };
  if (refs.clip.includes('/')) throw new Error(`${file}: the clip folder "${String(metadata.clip)}" must be a folder directly under models/`);
  return refs;
}

/** The 0-based indices of `stages` steps evenly spread over a run of `steps` (first and last included, no repeats). */
export function keptSteps(steps: number, stages: number): number[] {
  if (steps === 1 || stages === 1) return [steps - 1];
  return [...new Set(Array.from({ length: stages }, (_, k) => Math.round((k * (steps - 1)) / (stages - 1))))];
}

/**
 * Collects cross-attention maps during a sampling run: `record` is the prompt context's onAttention (inside the
 * forward pass: mean over heads of the prompt's `count` rows, kept past the pass), `endStep` closes a step (adds its
 * maps to the running sum; returns them when the step is kept, disposing them otherwise). Owns every tensor it holds
 * until `dispose`.
 */
class AttentionRecorder {
  readonly layers: string[] = [];
  private current = new Map<string, { sum: tf.Tensor3D; calls: number }>();
  private total = new Map<string, tf.Tensor3D>();
  steps = 0;

  constructor(private readonly count: number) {}

  /** Query positions of every layer (the maps are laid out on one grid). */
  positions = 0;

  /** weights [N', heads, positions, tokens]: rows 0 … count − 1 are the prompt's. */
  readonly record = (layer: string, weights: tf.Tensor4D): void => {
    if (!this.layers.includes(layer)) this.layers.push(layer);
    this.positions ||= weights.shape[2];
    if (weights.shape[2] !== this.positions) {
      throw new Error(`text2img: cross-attention layer ${layer} has ${weights.shape[2]} positions, another ${this.positions}: the maps need one grid`);
    }
    const mean = tf.keep(tf.tidy(() => tf.mean(tf.slice(weights, [0, 0, 0, 0], [this.count, -1, -1, -1]), 1) as tf.Tensor3D));
    const prev = this.current.get(layer);
    if (!prev) {
      this.current.set(layer, { sum: mean, calls: 1 });
      return;
    }
    // A sampler that calls the network more than once in a step: the step's map is the mean of its calls.
    const sum = tf.keep(tf.add(prev.sum, mean) as tf.Tensor3D);
    prev.sum.dispose();
    mean.dispose();
    this.current.set(layer, { sum, calls: prev.calls + 1 });
  };

  /** Close a step: its maps [layers × count × positions × tokens] when `keep`, else null. */
  async endStep(keep: boolean): Promise<Float32Array | null> {
    const maps = this.layers.map((layer) => {
      const entry = this.current.get(layer);
      if (!entry) throw new Error(`text2img: no cross-attention weights from ${layer} in this step`);
      return tf.tidy(() => tf.div(entry.sum, entry.calls) as tf.Tensor3D);
    });
    for (const entry of this.current.values()) entry.sum.dispose();
    this.current.clear();
    this.layers.forEach((layer, k) => {
      const prev = this.total.get(layer);
      this.total.set(layer, prev ? (tf.tidy(() => tf.add(prev, maps[k])) as tf.Tensor3D) : maps[k].clone());
      prev?.dispose();
    });
    this.steps++;
    if (!keep) {
      tf.dispose(maps);
      return null;
    }
    return concatRead(maps);
  }

  /** The mean over every step so far [layers × count × positions × tokens]. */
  async mean(): Promise<Float32Array> {
    return concatRead(this.layers.map((layer) => tf.tidy(() => tf.div(this.total.get(layer)!, this.steps))));
  }

  dispose(): void {
    for (const entry of this.current.values()) entry.sum.dispose();
    for (const t of this.total.values()) t.dispose();
    this.current.clear();
    this.total.clear();
  }
}

/** Read tensors (disposing them) into one array, in order. */
async function concatRead(tensors: tf.Tensor[]): Promise<Float32Array> {
  return concat(await readAll(tensors));
}

/** The text2img handler (clean params in, plain data out). */
export function createText2ImgHandler(res: Resources) {
  return ({ model, prompt, negative, w, seed, count, sampler, steps, attention, stages, reportMs }: Clean, { signal, progress }: Ctx): Promise<Result> =>
    res.withFallback(async () => {
      const [m, clf] = await Promise.all([res.text2img(model), res.classifier('classifier-mnist')]);
      const { clip, styleBins } = m.clip;
      const start = performance.now();
      const [h, wd, ch] = m.unet.metadata.config.inputShape;
      const latentSize = h * wd * ch;
      const kept = keptSteps(steps, stages);
      const keptSet = new Set(kept);
      const noise = makeNoise(seed);
      const zT = noise.normal([count, h, wd, ch]) as tf.Tensor4D;
      const recorder = attention ? new AttentionRecorder(count) : null;
      let promptCtx: TextContext | null = null;
      let negativeCtx: TextContext | null = null;
      let z: tf.Tensor4D | null = null;
      let images: tf.Tensor4D | null = null;
      try {
        promptCtx = { ...promptContext(clip, [prompt]), onAttention: recorder?.record };
        negativeCtx = w === 0 ? null : promptContext(clip, [negative]);
        // At w = 0 the second context is never read (one conditional pass a step).
        const denoiser = promptDenoiser(m.unet.unet.model, promptCtx, negativeCtx ?? promptCtx, w);
        const decode = (latents: tf.Tensor4D) => decodeScaled(m, latents);
        const first = (x: tf.Tensor4D) => tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;

        const stage = { steps: [] as number[], from: [] as number[], t: [] as number[], latents: new Float32Array(kept.length * latentSize), decoded: new Float32Array(kept.length * MNIST_PIXELS) };
        const maps: Float32Array[] = [];
        let nfe = 0;
        let lastReport = -Infinity;
        const [startLatent] = await readAll([first(zT)]);
        z = await samplers[sampler](
          (x, t) => {
            nfe++;
            return denoiser(x, t);
          },
          zT,
          m.unet.schedule,
          {
            noise,
            steps,
            eta: 0,
            signal,
            onStep: async (info) => {
              const keep = keptSet.has(info.index);
              const stepMaps = recorder ? await recorder.endStep(keep) : null;
              if (keep) {
                const k = stage.steps.length;
                const [latent, decoded] = await readAll(tf.tidy(() => [first(info.x), decode(first(info.x0Pred))]));
                stage.latents.set(latent, k * latentSize);
                stage.decoded.set(decoded, k * MNIST_PIXELS);
                stage.steps.push(info.index);
                stage.from.push(info.t);
                stage.t.push(info.tPrev);
                if (stepMaps) maps.push(stepMaps);
              }
              const now = performance.now();
              if (now - lastReport >= reportMs && info.index < info.steps - 1) {
                lastReport = now;
                const [x0] = await readAll([tf.tidy(() => decode(info.x0Pred))]);
                progress({ done: info.index + 1, steps: info.steps, t: info.tPrev, x0, elapsedMs: now - start });
              }
              await yieldToEvents();
            },
          },
        );
        images = tf.tidy(() => decode(z!));
        const emb = await embed(clf, images);
        const promptIds = captionTokens(prompt);
        const [, L, d] = promptCtx.states.shape;
        const [pixels, clipScores, states, mask] = await readAll(
          tf.tidy(() => {
            const image = encodeImage(clip, images!);
            const text = textEmbedding(clip, tf.tensor2d(promptIds.ids, [1, L], 'int32'));
            return [images!, tf.reshape(tf.matMul(image, text, false, true), [count]), tf.reshape(promptCtx!.states, [L, d]), tf.reshape(promptCtx!.mask, [L])];
          }),
        );
        const asked: CaptionSpec | null = parseCaption(prompt);
        const confidence = Float32Array.from(emb.predicted, (p, i) => emb.probs[i * 10 + p]);
        const styles = Array.from({ length: count }, (_, i) => measured(pixels.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), styleBins));
        const fits = asked ? Uint8Array.from(styles, (s, i) => (specMatches(asked, emb.predicted[i], styleClassOf(s, styleBins)) ? 1 : 0)) : null;
        const mean = recorder ? await recorder.mean() : null;
        if (recorder && recorder.positions !== h * wd) throw new Error(`text2img: cross-attention on ${recorder.positions} positions, not the ${h}×${wd} latent grid`);
        return {
          images: pixels,
          prompt: promptIds,
          negative: captionTokens(negative),
          asked,
          predicted: emb.predicted,
          confidence,
          styles,
          fits,
          clipScores,
          textStates: states,
          stateShape: [L, d] as [number, number],
          tokenMask: mask,
          latentShape: [h, wd, ch] as [number, number, number],
          stages: { ...stage, start: startLatent },
          attention:
            recorder && mean
              ? { layers: [...recorder.layers], steps: [...stage.steps], positions: [h, wd] as [number, number], tokens: L, maps: concat(maps), mean }
              : null,
          nfe,
          elapsedMs: performance.now() - start,
          modelName: m.unet.metadata.name,
        };
      } finally {
        zT.dispose();
        z?.dispose();
        images?.dispose();
        recorder?.dispose();
        if (promptCtx) disposeContext(promptCtx);
        if (negativeCtx) disposeContext(negativeCtx);
      }
    });
}

type EditApi = ComputeApi['img2img.prompt'];

/**
 * The img2img.prompt handler: Stable Diffusion's img2img and inpaint pipelines at digit scale, i.e. promptImg2img or
 * promptInpaint (src/core/textToImage.ts) on the text model, with progress (the decoded x̂_0 at most every
 * `reportMs`), z_{t0} and the prompts' tokens read back.
 */
export function createPromptEditHandler(res: Resources) {
  return (
    { model, mode, x0, strength, steps, keep, seed, reportMs, prompt, negative, w }: EditApi['clean'],
    { signal, progress }: { signal: AbortSignal; progress: (data: EditApi['progress']) => void },
  ): Promise<EditApi['result']> =>
    res.withFallback(async () => {
      const t2i = await res.text2img(model);
      const m: LatentTextModel = { model: t2i.unet.unet.model, autoencoder: t2i.autoencoder, latentScale: t2i.latentScale, schedule: t2i.unet.schedule };
      const [h, wd, c] = m.autoencoder.config.inputShape;
      if (x0.length !== h * wd * c) throw new RangeError(`img2img.prompt: the model takes ${h}×${wd}×${c} images, got ${x0.length} values`);
      const latentShape: [number, number, number] = [...m.autoencoder.latentShape];
      const { sqrtAlphaBar, sqrtOneMinusAlphaBar } = m.schedule;
      const began = performance.now();
      let nfe = 0;
      let start = null as Float32Array | null;
      let lastReport = -Infinity;
      const onStep = async (info: StepInfo): Promise<void> => {
        nfe++;
        if (info.index === 0 && mode === 'img2img') {
          // z_{t0}, where the run started, from the first step's x̂_0 and ε̂: z_t = √ᾱ_t x̂_0 + √(1−ᾱ_t) ε̂ (DDIM, Song et al. 2021, eq. 12).
          [start] = await readAll([tf.tidy(() => tf.add(tf.mul(info.x0Pred, sqrtAlphaBar[info.t]), tf.mul(info.eps, sqrtOneMinusAlphaBar[info.t])))]);
        }
        const now = performance.now();
        if (now - lastReport >= reportMs && info.index < info.steps - 1) {
          lastReport = now;
          const [x0Pred] = await readAll([decodeScaled(m, info.x0Pred)]);
          progress({ done: info.index + 1, steps: info.steps, t: info.tPrev, x0Pred });
        }
        await yieldToEvents();
      };
      const image = tf.tensor4d(x0, [1, h, wd, c]);
      let promptCtx: TextContext | null = null;
      let negativeCtx: TextContext | null = null;
      try {
        promptCtx = promptContext(t2i.clip.clip, [prompt]);
        // At w = 0 the negative context is never read (one conditional pass a step).
        negativeCtx = w === 0 ? null : promptContext(t2i.clip.clip, [negative]);
        const opts = { prompt: promptCtx, negative: negativeCtx ?? promptCtx, w, steps, noise: makeNoise(seed), onStep, signal };
        const tokens = { prompt: captionTokens(prompt), negative: captionTokens(negative) };
        if (mode === 'inpaint') {
          const r = await promptInpaint(m, image, { ...opts, keep });
          const [pixels, latent] = await readAll([r.image, r.latent]);
          return {
            image: pixels, start: null, latent, latentShape, t0: m.schedule.T, timesteps: r.timesteps,
            mask: halfMask(keep, h, wd), latentMask: halfMask(keep, latentShape[0], latentShape[1]),
            ...tokens, nfe, elapsedMs: performance.now() - began, modelName: t2i.unet.metadata.name,
          };
        }
        const r = await promptImg2img(m, image, { ...opts, strength });
        const [pixels, latent] = await readAll([r.image, r.latent]);
        return {
          // At strength 0 no step runs: the start is the input's latent itself.
          image: pixels, start: start ?? latent.slice(), latent, latentShape, t0: r.t0, timesteps: r.timesteps, mask: null, latentMask: null,
          ...tokens, nfe, elapsedMs: performance.now() - began, modelName: t2i.unet.metadata.name,
        };
      } finally {
        image.dispose();
        if (promptCtx) disposeContext(promptCtx);
        if (negativeCtx) disposeContext(negativeCtx);
      }
    });
}

/** Arrays end to end in one new array. */
function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
