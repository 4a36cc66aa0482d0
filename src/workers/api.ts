/**
 * The compute catalogue: every request a widget can make, declared once. `REQUESTS` gives each request's
 * parameters (type, default, bounds: src/workers/params.ts); the worker cleans every request against it before
 * a handler runs, so handlers hold no clamps. `WIDGET_STATE` says which values each widget keeps in its URL,
 * under which key, by pointing at those same declarations (or at a view-only one declared here), and widgets
 * take their controls' min/max/step from them. Results and progress payloads are plain data; images are
 * Float32Arrays of 28×28 pixels in [−1, 1], row-major, concatenated when there are several.
 */
import type { BackendAttempt, BackendName, BackendProbe } from '../core/backends';
import { BACKEND_NAMES } from '../core/backendNames';
import type { CaptionSpec } from '../core/captions';
import { FLOW_SAMPLERS, MAX_CUSTOM_POINTS, PRESETS } from '../core/flow2dData';
import { KEEP_HALVES } from '../core/masks';
import { MNIST_PIXELS } from '../core/mnistFormat';
import { SAMPLER_LABELS, SAMPLER_NAMES, stepsForNfe, type SamplerName } from '../core/samplerInfo';
import type { Flow2dProgressOf, Flow2dResults } from './flow2d';
import { bool, bytes, choice, enums, float, int, ints, model, oneOf, optional, pixels, text, texts, withDefault, type CleanOf, type ParamsOf } from './params';

// ---- shared declarations ---------------------------------------------------------------------------------

/** A 28×28 image in [−1, 1] (the handler checks it against the model's input shape). */
const IMAGE = pixels(MNIST_PIXELS);
const SEED = int(1, 0, 99_999);
const DIGIT = int(3, 0, 9);
/** The class to condition on, or −1 for none (the null class ∅). */
const CLASS_OR_NONE = int(-1, -1, 9);
const T_MAX = 1000;
const SCHEDULE = oneOf(['linear', 'cosine'], 'linear');
const VARIANCE = oneOf(['beta', 'betaTilde'], 'beta');
/** Least time between two progress reports that carry images. */
const REPORT_MS = int(60, 16, 2000);
/** A caption for the CLIP model (src/core/captions.ts tokenizes it: 11 words and <eos> are read, the rest cut). */
const CAPTION = text('a bold slanted right seven', 120);
/** A text-to-image prompt (read like a caption: 11 words and <eos>). */
const PROMPT = text('a bold seven', 120);
/** The text-to-image model (a U-Net with cross-attention whose model.json names its autoencoder and CLIP). */
const TEXT_MODEL = model('text2img-mnist');
/**
 * Prompt guidance, ε̃ = (1 + w) ε(z, prompt) − w ε(z, negative) (w = 0: the prompt alone, one pass a step; an empty
 * negative is the unconditional prompt ""): shared by text to image and the prompt-guided edits.
 */
const GUIDED_PROMPT = { prompt: PROMPT, negative: text('', PROMPT.maxLength), w: float(3, 0, 10, 0.1) } as const;
/**
 * An edit of one digit (src/core/img2img.ts), DDIM η = 0: 'img2img' starts at t0 = round(strength·T), 'inpaint'
 * keeps the half `keep` and regenerates the rest. Shared by the pixel model's and the text model's edits.
 */
const EDIT = {
  mode: oneOf(['img2img', 'inpaint'], 'img2img'),
  x0: IMAGE,
  strength: float(0.6, 0, 1, 0.01),
  steps: int(20, 5, 100),
  keep: oneOf(KEEP_HALVES, 'left'),
  seed: withDefault(SEED, 4),
  reportMs: withDefault(REPORT_MS, 80),
} as const;
/** The zero-shot prompts "the digit 0" … "the digit 9" (the model card's zero-shot evaluation uses the same). */
export const DIGIT_PROMPTS: readonly string[] = Array.from({ length: 10 }, (_, k) => `the digit ${k}`);
/** A 28×28 0/1 mask as packMask's 131 base64url characters (src/core/control.ts); all A's: an empty mask. */
const PACKED_MASK = text('A'.repeat(Math.ceil(MNIST_PIXELS / 6)), Math.ceil(MNIST_PIXELS / 6));

/** The flow-matching model the race's flow lanes run (a U-Net whose model.json says `prediction: 'velocity'`). */
export const RACE_FLOW_MODEL = 'flow-mnist';
/**
 * The consistency model the race's consistency lane runs (a U-Net whose model.json says `prediction: 'consistency'`
 * and gives its grid size and σ_d under `consistency`; src/core/samplers/consistency.ts samples it).
 */
export const RACE_CONSISTENCY_MODEL = 'consistency-mnist';
/** The diffusion model RACE_CONSISTENCY_MODEL was distilled from: its converged ODE solution is what one step aims at. */
export const RACE_CONSISTENCY_TEACHER = 'unet-mnist';
/** A race lane's sampler: a diffusion sampler (samplers/index.ts), a flow sampler (samplers/flow.ts) as 'flow-<name>', or the consistency sampler. */
export type RaceSampler = SamplerName | `flow-${(typeof FLOW_SAMPLERS)[number]}` | 'consistency';
/**
 * The sampler race's lanes, each declared once here: its key (the request's sampler and the URL key `race.<key>`), the
 * model family it runs ('diffusion': the race's U-Net, shipped or trained in the tab; 'flow': RACE_FLOW_MODEL, Euler or
 * Heun on dx/ds = v; 'consistency': RACE_CONSISTENCY_MODEL by multistep consistency sampling), the label readers see,
 * and the sampler whose cost rule it follows (steps from the NFE budget, NFE from the steps: the flow's Euler N = NFE,
 * its Heun 2N − 1 with the last step Euler, as the diffusion Euler and Heun; the consistency lane one evaluation a step,
 * as DDIM, with its own number of steps, `cmSteps`, instead of the shared budget: `raceLaneSteps`).
 */
export interface RaceLane {
  key: RaceSampler;
  family: 'diffusion' | 'flow' | 'consistency';
  label: string;
  cost: SamplerName;
}
export const RACE_LANES: readonly RaceLane[] = [
  ...SAMPLER_NAMES.map((n): RaceLane => ({ key: n, family: 'diffusion', label: SAMPLER_LABELS[n], cost: n })),
  ...FLOW_SAMPLERS.map((n): RaceLane => ({ key: `flow-${n}`, family: 'flow', label: `Flow matching · ${SAMPLER_LABELS[n]}`, cost: n })),
  { key: 'consistency', family: 'consistency', label: 'Consistency model', cost: 'ddim' },
];
/** Every sampler a race lane may name, in the lanes' order. */
export const RACE_SAMPLERS: readonly RaceSampler[] = RACE_LANES.map((l) => l.key);

/** The guidance lab's run (REQUESTS.guide), also the parameters of its replay for scrubbing. */
const GUIDE = {
  model: model('latent-mnist'),
  digit: DIGIT,
  w: float(3, 0, 10, 0.1),
  seed: withDefault(SEED, 11),
  count: int(16, 1, 36),
  steps: int(25, 5, 100),
  negative: CLASS_OR_NONE,
} as const;

export const REQUESTS = {
  /** Pick the backend (first call wins; later calls report the current one). */
  /** Start the backend ladder; `threads`: the wasm pool size asked for by `?threads=` (cross-origin isolated pages only). */
  init: { order: optional(enums(BACKEND_NAMES)), threads: optional(int(1, 1, 16)) },
  /** x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for each t in `ts`, with the same seeded ε for every t. */
  noise: { x0: IMAGE, schedule: SCHEDULE, T: int(T_MAX, 1, T_MAX), ts: ints([0], 0, T_MAX, 32), seed: SEED },
  /** One reverse DDPM step of a U-Net taken apart (Ho et al. 2020, eq. 11); the conditional model runs its ∅ branch. */
  inspect: {
    model: model('unet-mnist'),
    x0: IMAGE,
    t: int(400, 1, T_MAX),
    seed: withDefault(SEED, 3),
    zSeed: withDefault(SEED, 4),
    variance: VARIANCE,
  },
  /**
   * One lane of the sampler race: `count` samples of a U-Net (shipped, or 'training-lab') by any registered sampler
   * (RACE_SAMPLERS): a diffusion sampler for an ε-model, 'flow-euler' or 'flow-heun' for a velocity model (model.json
   * `prediction: 'velocity'`, e.g. RACE_FLOW_MODEL), 'consistency' for a consistency model (model.json
   * `prediction: 'consistency'`, e.g. RACE_CONSISTENCY_MODEL: `steps` at most its grid size − 1); any other pairing is refused.
   */
  race: {
    model: model('unet-mnist'),
    sampler: oneOf(RACE_SAMPLERS, 'ddim'),
    steps: int(50, 1, T_MAX),
    /** The timestep grid (diffusers' names); one grid for every lane, so lanes differ only in how they step. */
    spacing: oneOf(['linspace', 'leading', 'trailing'], 'linspace'),
    eta: float(0, 0, 1, 0.1),
    variance: withDefault(VARIANCE, 'betaTilde'),
    seed: withDefault(SEED, 7),
    count: int(9, 1, 16),
    reportMs: REPORT_MS,
  },
  /**
   * Classifier-free guidance on the latent model: `count` latents of `digit` by DDIM from one seeded z_T,
   * ε̃ = (1+w) ε(z, c) − w ε(z, ∅) (∅ replaced by `negative` when ≥ 0), decoded and judged by classifier-mnist.
   */
  guide: GUIDE,
  /**
   * The same run as `guide` with the same parameters, kept for scrubbing: up to RACE_TRAJECTORY_FRAMES kept steps of
   * z_t and ẑ_0, each decoded to images (asked for only when the reader scrubs a run, so a grid costs no decoding).
   */
  'guide.trajectory': GUIDE,
  /** The latent model's autoencoder on one image, with `sigma` × seeded N(0, I) added to the scaled latent. */
  autoencode: { model: model('latent-mnist'), x: IMAGE, sigma: float(0, 0, 1.5, 0.05), seed: SEED },
  /** Editing a digit with a pixel U-Net (EDIT above), x̂_0 clipped, conditioned on `digit` (−1: ∅). */
  img2img: { model: model('unet-mnist'), ...EDIT, digit: withDefault(CLASS_OR_NONE, 8) },
  /**
   * The same edits with the text-to-image model and a prompt, as Stable Diffusion's img2img and inpaint pipelines
   * (src/core/textToImage.ts promptImg2img, promptInpaint; src/workers/text2img.ts): the digit is encoded, the edit
   * runs on its 7×7×4 scaled latent under prompt guidance (GUIDED_PROMPT), the latent is decoded; inpainting keeps
   * the latent cells of the kept half, then pastes the kept pixels of the input back exactly.
   */
  'img2img.prompt': { model: TEXT_MODEL, ...EDIT, ...GUIDED_PROMPT },
  /** Build a fresh training session (disposing any previous one); `pretrained` starts from models/unet-mnist. */
  'lab.create': {
    size: oneOf(['tiny', 'small'], 'tiny'),
    batchSize: choice([8, 16, 32, 64], 8),
    lr: choice([0.0003, 0.001, 0.002], 0.002),
    schedule: SCHEDULE,
    seed: SEED,
    pretrained: bool(false),
  },
  /** Train until cancelled (pause) or `maxSteps` more steps; progress carries the loss and sample grids. */
  'lab.run': { maxSteps: optional(int(1, 1, 1e9)), lossEvery: int(5, 1, 1000), sampleEvery: int(100, 0, 100_000) },
  /** A sample grid from the current weights. */
  'lab.samples': { count: int(16, 1, 64), steps: int(20, 1, 100) },
  /** The session as checkpoint bytes (src/core/checkpoint.ts), for IndexedDB or a file. */
  'lab.checkpoint': {},
  /** Replace the session by one decoded from checkpoint bytes; invalid bytes are refused with a clear error. */
  'lab.restore': { bytes: bytes(64 * 2 ** 20), source: text('the checkpoint', 200) },
  /** ε̂ of the session's model for images at timestep t. */
  'lab.predict': { x: pixels(MNIST_PIXELS, MNIST_PIXELS * 64), t: int(300, 1, T_MAX) },
  /** Stop a running `lab.run` (it then resolves) and report the exact state it stopped in. */
  'lab.pause': {},
  'lab.reset': {},
  /** The session's state (steps, settings, loss history, backend). */
  'lab.info': {},
  /**
   * Text → image retrieval with the tiny CLIP: the caption's tokens, and the 1,000 held-out digits ranked by the
   * cosine similarity of their image embedding to the caption's text embedding (the best `top` with their images).
   */
  'clip.rank': { model: model('clip-mnist'), caption: CAPTION, top: int(24, 1, 100) },
  /**
   * Zero-shot classification by words: one image against a list of captions, cosine similarities and the softmax
   * of exp(min(s, ln 100))·cos with the model's learned temperature s; plus the image's measured style.
   */
  'clip.classify': { model: model('clip-mnist'), x: IMAGE, captions: texts(DIGIT_PROMPTS, 16, 120) },
  /**
   * A 2-D map of the embedding space: PCA (fitted once per model, see src/workers/clip.ts) of `perClass` held-out
   * digits of each class, the prompts "the digit 0" … "the digit 9", the caption and, when given, the image x.
   * `axes`: the plane fitted on the digits' embeddings alone, or on digits and prompts weighing the same.
   */
  'clip.map': { model: model('clip-mnist'), caption: CAPTION, x: optional(IMAGE), perClass: int(50, 5, 100), axes: oneOf(['digits', 'joint'], 'digits') },
  /**
   * Text to image (src/core/textToImage.ts, src/workers/text2img.ts): `count` latents from one seeded z_T, sampled
   * with prompt guidance ε̃ = (1 + w) ε(z, prompt) − w ε(z, negative) (w = 0: the prompt alone, one pass a step;
   * an empty negative is the unconditional prompt ""), decoded, read by classifier-mnist, measured (thickness, slant,
   * width under clip-mnist's bins) and scored by CLIP. `stages` evenly spaced steps of the run are kept: the first
   * sample's latent and decoded x̂_0 and, with `attention`, the cross-attention maps of every sample at each.
   */
  text2img: {
    model: TEXT_MODEL,
    ...GUIDED_PROMPT,
    seed: withDefault(SEED, 42),
    count: int(16, 1, 36),
    sampler: oneOf(['ddim', 'dpmpp2m'], 'ddim'),
    steps: int(25, 5, 100),
    attention: bool(true),
    stages: int(5, 2, 10),
    reportMs: withDefault(REPORT_MS, 150),
  },
  /**
   * ControlNet on the latent model (src/core/controlnet.ts, src/workers/controlnet.ts): `samples` latents of `digit`
   * from one seeded z_T by DDIM, class guidance ε̃ = (1 + w) ε(z, c) − w ε(z, ∅) on the frozen latent-mnist denoiser
   * whose skips and middle receive λ = `scale` times the ControlNet's residuals for the skeleton `hint` (packMask
   * text; anything else is refused), decoded. λ = 0 is the guidance lab's model bit for bit.
   */
  controlnet: {
    model: model('controlnet-mnist'),
    digit: DIGIT,
    scale: float(1, 0, 2, 0.05),
    w: float(3, 0, 10, 0.1),
    steps: int(20, 5, 50),
    seed: withDefault(SEED, 13),
    samples: int(8, 1, 16),
    hint: PACKED_MASK,
  },
  /**
   * The 2-D flow playground (src/core/flow2d.ts, src/workers/flow2d.ts): a diffusion (ε, VP) and a flow-matching MLP
   * trained side by side from one seed on a preset's points or on the reader's own (`points`, interleaved x, y).
   */
  'flow2d.create': { preset: oneOf(PRESETS, 'moons'), seed: withDefault(SEED, 1), points: optional(pixels(2, 2 * MAX_CUSTOM_POINTS)) },
  /** Train both networks `steps` more steps (one Adam step each a step); the mean losses are reported every `lossEvery`. */
  'flow2d.train': { steps: int(500, 1, 100_000), lossEvery: int(10, 1, 1000) },
  /** Stop a running `flow2d.train` or `flow2d.reflow` (it then resolves). */
  'flow2d.pause': {},
  'flow2d.info': {},
  'flow2d.reset': {},
  /** `count` points of one seeded x_T through both models in `steps` steps (flow: `sampler`; diffusion: DDIM, η = 0), every position kept. */
  'flow2d.sample': { steps: int(20, 1, 100), sampler: oneOf(FLOW_SAMPLERS, 'euler'), count: int(300, 10, 1000), seed: withDefault(SEED, 1) },
  /** Both velocity fields (the flow's v and the diffusion model's implied ε̂ − x̂₀) at straight-path time s on a grid × grid lattice. */
  'flow2d.field': { s: float(0.5, 0, 1, 0.05), grid: int(15, 5, 31) },
  /** Reflow: `pairs` (ε, x̂₀) pairs of the current flow by `pairSteps` Heun steps, then `steps` steps of a flow on them (new weights with `fresh`, else the trained flow's). */
  'flow2d.reflow': { pairs: int(4000, 100, 20_000), pairSteps: int(50, 1, 100), steps: int(1000, 0, 100_000), lossEvery: int(10, 1, 1000), fresh: bool(true) },
  /** Energy distance to the target and straightness of both models as N runs over 100, 50, 20, 10, 5, 2, 1. */
  'flow2d.sweep': { count: int(500, 50, 1000), seed: withDefault(SEED, 1), sampler: oneOf(FLOW_SAMPLERS, 'euler') },
  /** Tensor bookkeeping, for tests and the console. */
  memory: {},
} as const;

/** The sampler race's lanes when the URL names none, and how many may race at once. */
export const RACE_DEFAULT_LANES: readonly RaceSampler[] = ['ddpm', 'ddim', 'dpmpp2m'];
export const RACE_MAX_LANES = 4;
/** Most frames of a race lane's trajectory kept for scrubbing after the race (keptStepIndices). */
export const RACE_TRAJECTORY_FRAMES = 25;
/**
 * A lane's stored run: `t[k]` is the timestep reached after the k-th kept step (flow lanes: 1000·s), and frame k
 * of `x` and `x0` (each `count` × 784 values) the images x_t and the prediction x̂₀ at that step.
 */
export interface RaceTrajectory {
  t: Int32Array;
  x: Float32Array;
  x0: Float32Array;
}

/**
 * A race instance's default lanes from its `lanes` prop, a comma-separated list of lane keys (RACE_LANES, e.g.
 * "consistency,ddim,dpmpp2m"): spaces and repeats ignored, in the lanes' declared order. `unknown` lists names that
 * are no lane and `tooMany` is set when more than RACE_MAX_LANES are named (the build refuses both); no prop, or
 * one naming no lane, gives RACE_DEFAULT_LANES.
 */
export function parseRaceLanes(text: string | undefined): { lanes: RaceSampler[]; unknown: string[]; tooMany: boolean } {
  const names = [...new Set((text ?? '').split(',').map((n) => n.trim()).filter((n) => n !== ''))];
  const unknown = names.filter((n) => !RACE_SAMPLERS.includes(n as RaceSampler));
  const named = RACE_SAMPLERS.filter((k) => names.includes(k));
  return { lanes: named.length ? named : [...RACE_DEFAULT_LANES], unknown, tooMany: named.length > RACE_MAX_LANES };
}

/**
 * The race's URL state with other default lanes (an instance's `lanes` prop): the same declarations as
 * WIDGET_STATE.race, only each lane's default changed, so the URL still overrides and a URL naming none of a
 * lane leaves it at this instance's default.
 */
export function raceStateWithLanes<S extends Record<RaceSampler, { type: 'bool'; default: boolean }>>(spec: S, lanes: readonly RaceSampler[]): S {
  return { ...spec, ...Object.fromEntries(RACE_SAMPLERS.map((k) => [k, withDefault(spec[k], lanes.includes(k))])) };
}

/** A lane's steps: the consistency lane its own `cmSteps`; every other lane the most its cost rule allows within the shared `nfe` (DDPM: T). */
export function raceLaneSteps(lane: RaceLane, state: { nfe: number; cmSteps: number }, T = T_MAX): number {
  return lane.family === 'consistency' ? state.cmSteps : stepsForNfe(lane.cost, state.nfe, T);
}

/** What each widget keeps in its URL (`<widget id>.<key>`), each value one of the declarations above. */
export const WIDGET_STATE = {
  scrub: { digit: DIGIT, t: int(250, 0, T_MAX), schedule: REQUESTS.noise.schedule, seed: REQUESTS.noise.seed },
  /** The dissolving digit of the home page and lesson 1 (no request: x_t on plain arrays in the page). */
  dissolve: { t: int(0, 0, T_MAX) },
  sched: { t: int(500, 0, T_MAX), digit: withDefault(DIGIT, 7), show: oneOf(['alphaBar', 'beta', 'logSnr'], 'alphaBar'), seed: withDefault(SEED, 2) },
  inspect: {
    digit: withDefault(DIGIT, 5),
    t: REQUESTS.inspect.t,
    seed: REQUESTS.inspect.seed,
    z: REQUESTS.inspect.zSeed,
    variance: REQUESTS.inspect.variance,
  },
  lab: {
    size: REQUESTS['lab.create'].size,
    batch: REQUESTS['lab.create'].batchSize,
    lr: REQUESTS['lab.create'].lr,
    schedule: REQUESTS['lab.create'].schedule,
    seed: REQUESTS['lab.create'].seed,
    pretrained: REQUESTS['lab.create'].pretrained,
  },
  race: {
    model: oneOf(['shipped', 'trained'], 'shipped'),
    count: choice([1, 4, 9, 16], REQUESTS.race.count.default),
    /** How many network evaluations every ODE lane may make (DDPM always takes its T steps). */
    nfe: choice([5, 10, 20, 50, 100, 200], 20),
    /** The consistency lane's own steps (one network evaluation each), outside the shared budget. */
    cmSteps: choice([1, 2, 4], 1),
    eta: REQUESTS.race.eta,
    seed: REQUESTS.race.seed,
    view: oneOf(['x', 'x0'], 'x'),
    /** After a race, how far along the stored runs to look: 0 = the starting noise (t = T), 1000 = the end (t = 0). */
    at: int(1000, 0, 1000),
    /** The lanes (RACE_LANES): which samplers race (at most RACE_MAX_LANES); a URL that names none of a lane leaves it off. */
    ...(Object.fromEntries(RACE_LANES.map(({ key }) => [key, bool(RACE_DEFAULT_LANES.includes(key))])) as Record<RaceSampler, ReturnType<typeof bool>>),
  },
  guide: {
    digit: REQUESTS.guide.digit,
    w: REQUESTS.guide.w,
    seed: REQUESTS.guide.seed,
    negative: REQUESTS.guide.negative,
    steps: REQUESTS.guide.steps,
    /** After "Scrub this run": how far along the stored run to look (0 = t = T, 1000 = the end). */
    at: int(1000, 0, 1000),
  },
  ae: { digit: DIGIT, sigma: REQUESTS.autoencode.sigma, seed: REQUESTS.autoencode.seed },
  clip: {
    caption: REQUESTS['clip.rank'].caption,
    /** How many ranked digits the widget shows. */
    top: choice([8, 16, 24, 48], REQUESTS['clip.rank'].top.default),
    /** The held-out digit (one of each class is embedded in the page) when the reader is not drawing. */
    digit: withDefault(DIGIT, 7),
    /** Which captions the digit is compared with: a preset, or the reader's own list. */
    prompts: oneOf(['digits', 'thickness', 'slant', 'width', 'custom'], 'digits'),
    /** The map's plane. */
    axes: REQUESTS['clip.map'].axes,
    /** The reader's own captions, one a line (at most the request's 16 are used). */
    custom: text('the digit 7\na bold seven\na thin seven\na seven slanted left', 1000),
  },
  prompt: {
    prompt: REQUESTS.text2img.prompt,
    negative: REQUESTS.text2img.negative,
    w: REQUESTS.text2img.w,
    seed: REQUESTS.text2img.seed,
    sampler: REQUESTS.text2img.sampler,
    steps: REQUESTS.text2img.steps,
    count: choice([4, 9, 16, 25, 36], REQUESTS.text2img.count.default),
    /** The attention view: which token (its position in the prompt), which kept step (−1: the mean of all steps), which layer (−1: their mean). */
    token: int(0, 0, 11),
    step: int(-1, -1, 9),
    layer: int(-1, -1, 8),
  },
  img2img: {
    mode: REQUESTS.img2img.mode,
    digit: DIGIT,
    /** Which model edits: the pixel U-Net with a class, or the latent text model with a prompt. */
    condition: oneOf(['class', 'prompt'], 'class'),
    target: REQUESTS.img2img.digit,
    prompt: REQUESTS['img2img.prompt'].prompt,
    negative: REQUESTS['img2img.prompt'].negative,
    w: REQUESTS['img2img.prompt'].w,
    strength: REQUESTS.img2img.strength,
    keep: REQUESTS.img2img.keep,
    steps: REQUESTS.img2img.steps,
    seed: REQUESTS.img2img.seed,
  },
  controlnet: {
    digit: REQUESTS.controlnet.digit,
    scale: REQUESTS.controlnet.scale,
    w: REQUESTS.controlnet.w,
    seed: REQUESTS.controlnet.seed,
    /** The reader's drawing as its ink mask (pixels ≥ 128), packMask text; empty or malformed: the default preset. */
    ink: text('', PACKED_MASK.maxLength),
  },
  flow: {
    preset: REQUESTS['flow2d.create'].preset,
    seed: REQUESTS['flow2d.create'].seed,
    steps: REQUESTS['flow2d.sample'].steps,
    sampler: REQUESTS['flow2d.sample'].sampler,
    /** The straight-path time s of the arrows. */
    time: REQUESTS['flow2d.field'].s,
  },
} as const;

/** Which request parameter a widget's URL value feeds, where it feeds one (checked to lie within its bounds). */
export const WIDGET_FEEDS: Partial<Record<keyof typeof WIDGET_STATE, { request: keyof typeof REQUESTS; params: Record<string, string> }>> = {
  race: { request: 'race', params: { count: 'count', nfe: 'steps', cmSteps: 'steps', eta: 'eta', seed: 'seed' } },
  clip: { request: 'clip.rank', params: { top: 'top' } },
  prompt: { request: 'text2img', params: { count: 'count' } },
};

// ---- results ------------------------------------------------------------------------------------------------

export type LabSettings = Omit<CleanOf<(typeof REQUESTS)['lab.create']>, 'pretrained'>;

export interface LabProgress {
  step: number;
  /** Mean loss over the steps since the last report. */
  loss: number;
  examplesPerSecond: number;
  elapsedMs: number;
  /** Present when a fresh sample grid was drawn at this step. */
  samples?: Float32Array;
  samplesStep?: number;
}

/** What the page knows about the lab's session. */
export interface LabInfo {
  step: number;
  settings: LabSettings;
  paramCount: number;
  lossHistory: [number, number][];
  backend: BackendName | null;
  pretrained: boolean;
}

export interface BackendInfo {
  backend: BackendName;
  attempts: BackendAttempt[];
  /** Why this backend computes here, in words for the reader (e.g. WebGL on SwiftShader, slower than wasm). */
  reason?: string;
  /** What the browser's own APIs said about each GPU rung before tfjs touched it. */
  probes?: BackendProbe[];
  /** The ladder as tried after ranking (a fallback walks down it). */
  order?: BackendName[];
  /** True on the default ladder, ranked by the probes; false when the page named the backends. */
  ranked?: boolean;
  /** wasm: how many threads its pool runs (more than 1 only where the page is cross-origin isolated). */
  threads?: number;
}

/** Unsolicited events the worker broadcasts. */
export type WorkerEvent =
  | ({ type: 'backend' } & BackendInfo)
  | { type: 'fallback'; from: BackendName; to: BackendName; reason: string };

/** A caption as the tokenizer read it (src/core/captions.ts, `tokenize`). */
export interface CaptionTokens {
  /** Every word as split (including any past the truncation). */
  tokens: string[];
  /** The CONTEXT_LENGTH ids the text encoder reads: the kept words, <eos>, then <pad>. */
  ids: Int32Array;
  /** Words outside the vocabulary (read as <unk>). */
  unknown: string[];
  /** More words than fit before <eos>: the rest was cut. */
  truncated: boolean;
}

/** A digit's measured stroke thickness, slant and width, and the words of its bins under the model's style bins. */
export interface MeasuredStyle {
  thickness: number;
  slant: number;
  width: number;
  words: { thickness: string; slant: string; width: string };
}

interface Results extends Flow2dResults {
  init: BackendInfo;
  noise: { images: Float32Array };
  inspect: {
    xt: Float32Array;
    eps: Float32Array;
    epsPred: Float32Array;
    x0Pred: Float32Array;
    mean: Float32Array;
    xPrev: Float32Array;
    /** mean((ε − ε̂)²) */
    epsMse: number;
    sigma: number;
    coef: { sqrtAlphaBar: number; sqrtOneMinusAlphaBar: number; beta: number; alpha: number };
    modelName: string;
  };
  /** `elapsedMs`: the lane's own compute time (the lanes take turns in one worker; see OwnClock in handlers.ts). */
  race: { x0: Float32Array; nfe: number; elapsedMs: number; steps: number; trajectory: RaceTrajectory };
  guide: {
    images: Float32Array;
    /** Scaled latents, NHWC [count, h, w, c]. */
    latents: Float32Array;
    latentShape: [number, number, number];
    predicted: Int32Array;
    /** Share classified as `digit`. */
    accuracy: number;
    meanConfidence: number;
    /** Mean pairwise distance of the classifier's features (within-class diversity). */
    diversity: number;
    elapsedMs: number;
  };
  /** A guidance run's kept steps: t, and x_t and x̂_0 decoded from z_t and ẑ_0 (frames × count × 784). */
  'guide.trajectory': RaceTrajectory;
  autoencode: {
    /** Scaled latent of x, NHWC [h, w, c] (no noise). */
    latent: Float32Array;
    /** The latent that was decoded: `latent` + σ ε. */
    noisyLatent: Float32Array;
    latentShape: [number, number, number];
    imageShape: [number, number, number];
    /** D(z) of the noisy latent. */
    decoded: Float32Array;
    /** D(z) of the clean latent. */
    reconstruction: Float32Array;
    /** mean over pixels of (decoded − x)². */
    mse: number;
    /** mean over pixels of (reconstruction − x)². */
    mseClean: number;
    /** Multiplier s applied to E(x), from the autoencoder's file. */
    latentScale: number;
    modelName: string;
  };
  img2img: {
    image: Float32Array;
    /** x_{t0} (img2img only). */
    start: Float32Array | null;
    t0: number;
    timesteps: number[];
    /** The keep mask, 1 = kept (inpaint only). */
    mask: Float32Array | null;
    nfe: number;
    elapsedMs: number;
  };
  'img2img.prompt': {
    /** The edited digit (inpaint: its kept half is exactly the input's). */
    image: Float32Array;
    /** z_{t0}: the input's scaled latent noised to t0, where the reverse process starts, [h, w, c] (img2img only). */
    start: Float32Array | null;
    /** z_0: the scaled latent the image was decoded from, [h, w, c]. */
    latent: Float32Array;
    latentShape: [number, number, number];
    t0: number;
    timesteps: number[];
    /** The keep mask in pixels, 1 = kept (inpaint only): the pixels pasted back from the input. */
    mask: Float32Array | null;
    /** The keep mask on the latent grid (inpaint only): the latent cells kept during sampling. */
    latentMask: Float32Array | null;
    /** How the tokenizer read the prompt and the negative prompt. */
    prompt: CaptionTokens;
    negative: CaptionTokens;
    /** Denoiser calls (one a step; under guidance each runs a doubled batch). */
    nfe: number;
    elapsedMs: number;
    modelName: string;
  };
  'lab.create': LabInfo;
  'lab.run': LabInfo;
  'lab.samples': { images: Float32Array };
  'lab.checkpoint': { bytes: Uint8Array; step: number };
  'lab.restore': LabInfo;
  'lab.predict': { eps: Float32Array };
  'lab.pause': LabInfo;
  'lab.reset': { ok: true };
  'lab.info': LabInfo;
  'clip.rank': CaptionTokens & {
    /** Held-out indices of the `top` most similar digits, best first. */
    indices: Int32Array;
    /** Their images, concatenated. */
    images: Float32Array;
    labels: Int32Array;
    /** Their cosine similarity to the caption. */
    scores: Float32Array;
    /** 1 where what the caption says (parseCaption) is true of the digit: its label and its measured style bins. */
    fits: Uint8Array;
    /** Cosine similarity of every held-out digit (index order), their labels and whether the caption fits each. */
    similarities: Float32Array;
    allLabels: Int32Array;
    fitsAll: Uint8Array;
    /** How many held-out digits the caption is true of (null when the caption contradicts itself). */
    fitting: number | null;
    modelName: string;
  };
  'clip.classify': {
    /** One token reading per caption, in order. */
    captions: CaptionTokens[];
    /** Cosine similarity of the image to each caption. */
    similarities: Float32Array;
    /** softmax over the captions of exp(min(s, ln 100)) · cos. */
    probabilities: Float32Array;
    /** exp(min(s, ln 100)): the inverse temperature the model learned. */
    scale: number;
    style: MeasuredStyle;
    modelName: string;
  };
  'clip.map': {
    /** 2-D coordinates of the held-out digits shown, [count × 2], and their labels and held-out indices. */
    points: Float32Array;
    labels: Int32Array;
    indices: Int32Array;
    /** 2-D coordinates of the prompts "the digit 0" … "the digit 9", [10 × 2]. */
    prompts: Float32Array;
    /** The caption's point and, when an image was sent, the image's point. */
    caption: [number, number];
    image: [number, number] | null;
    /** Share of the fitted embeddings' variance along each of the two axes. */
    explained: [number, number];
    /** What the PCA was fitted on. */
    fittedOn: string;
    /** Cosine similarity of the image to the caption (null without an image). */
    imageCaptionSimilarity: number | null;
  };
  text2img: {
    /** The samples in [−1, 1], [count × 784]. */
    images: Float32Array;
    /** How the tokenizer read the prompt and the negative prompt. */
    prompt: CaptionTokens;
    negative: CaptionTokens;
    /** What the prompt asks for (parseCaption: a digit, attribute bins), null when it contradicts itself. */
    asked: CaptionSpec | null;
    /** classifier-mnist's digit for each sample and its probability. */
    predicted: Int32Array;
    confidence: Float32Array;
    /** Each sample's measured thickness, slant and width with their words under clip-mnist's bins. */
    styles: MeasuredStyle[];
    /** 1 where the sample is what the prompt asks (the classifier's digit, the measured bins); null without `asked`. */
    fits: Uint8Array | null;
    /** CLIP score: cosine of each sample's image embedding to the prompt's text embedding. */
    clipScores: Float32Array;
    /** The prompt's token states [L × d] from the text encoder (what cross-attention reads) and its mask [L]. */
    textStates: Float32Array;
    stateShape: [number, number];
    tokenMask: Float32Array;
    /** [h, w, c] of a latent. */
    latentShape: [number, number, number];
    /**
     * The first sample through the run: z_T (`start`), then at each kept step (0-based index, the timestep it started
     * from and the one it reached) the latent reached and the decoded x̂_0 predicted in the step, [steps × latent] and
     * [steps × 784].
     */
    stages: { steps: number[]; from: number[]; t: number[]; start: Float32Array; latents: Float32Array; decoded: Float32Array };
    /**
     * Cross-attention weights averaged over heads, prompt rows only: `maps` [steps × layers × count × positions ×
     * tokens] at the kept steps, `mean` [layers × count × positions × tokens] over every step. Each position's
     * weights sum to 1 over the prompt's real tokens (up to <eos>) and are 0 on pads. Null without `attention`.
     */
    attention: { layers: string[]; steps: number[]; positions: [number, number]; tokens: number; maps: Float32Array; mean: Float32Array } | null;
    nfe: number;
    elapsedMs: number;
    modelName: string;
  };
  controlnet: {
    /** The samples in [−1, 1], [samples × 784]. */
    images: Float32Array;
    /** The skeleton the ControlNet read (784 bytes of 0/1). */
    hint: Uint8Array;
    /**
     * What the trainable copy adds, as 7×7 maps of the per-position L2 norm over channels (row-major): `hint` the hint
     * features f added to the copy's stem; `skip0` and `mid` the residuals λ·Z(·) added to the frozen U-Net's first
     * skip and its middle, over the conditional half of the batch, averaged over the samples and the sampling steps
     * (zero at λ = 0, where nothing is added). `max` holds each map's largest value.
     */
    maps: ResidualMaps;
    max: { [K in keyof ResidualMaps]: number };
    mapShape: [number, number];
    /** Denoiser calls (one a step, each a doubled batch under guidance). */
    nfe: number;
    elapsedMs: number;
    modelName: string;
  };
  memory: { numTensors: number; numBytes: number; backend: BackendName | null };
}

/** The ControlNet lab's residual maps (see Results.controlnet). */
export interface ResidualMaps {
  hint: Float32Array;
  skip0: Float32Array;
  mid: Float32Array;
}

interface Progress extends Flow2dProgressOf {
  /** The current x_t and x̂_0 (at most every `reportMs`), network evaluations and wall time so far. */
  race: { index: number; steps: number; t: number; x: Float32Array; x0Pred: Float32Array; nfe: number; elapsedMs: number };
  /** `done` of `steps` steps taken; x = x_t after the last of them. */
  img2img: { done: number; steps: number; t: number; x: Float32Array; x0Pred: Float32Array };
  /** `done` of `steps` steps taken; x0Pred = the decoded x̂_0 predicted in the last of them (pixels, not the latent). */
  'img2img.prompt': { done: number; steps: number; t: number; x0Pred: Float32Array };
  'lab.run': LabProgress;
  /** `done` of `steps` steps; x0 = the decoded x̂_0 of every sample at that step [count × 784]. */
  text2img: { done: number; steps: number; t: number; x0: Float32Array; elapsedMs: number };
  /** `done` of `steps` steps taken, t = the timestep reached. */
  controlnet: { done: number; steps: number; t: number; elapsedMs: number };
}

export type RequestKind = keyof typeof REQUESTS;
/** Params as a caller sends them (defaults may be left out), clean params as a handler receives them. */
export type ComputeApi = {
  [K in RequestKind]: { params: ParamsOf<(typeof REQUESTS)[K]>; clean: CleanOf<(typeof REQUESTS)[K]>; result: Results[K] } & (K extends keyof Progress
    ? { progress: Progress[K] }
    : unknown);
};
