/**
 * A training-lab checkpoint as one file: the weights in TensorFlow.js weights format (io.ts) plus the U-Net
 * configuration, the noise schedule and the training state in its metadata. Layout (little-endian):
 *
 *   "DLCK" | uint32 version | uint32 byte length of the JSON | JSON (model.json) | weight data
 *
 * The same bytes go to IndexedDB and to an exported file; `decodeCheckpoint` refuses anything else with an
 * Error that says what is wrong, so a bad import never reaches the model.
 */
import { downsampleMinMax, LOSS_HISTORY_CAP } from './downsample';
import { decodeWeights, encodeWeights, type NamedWeights } from './io';
import { parseUNetMetadata, type UNetMetadata } from './models';

export const CHECKPOINT_MAGIC = 'DLCK';
export const CHECKPOINT_VERSION = 1;

/** Training state stored beside the weights. */
export interface TrainingState {
  step: number;
  /** (step, loss) pairs as recorded by the lab. */
  lossHistory: [number, number][];
  /** The lab's settings (batch size, learning rate, seed, …). */
  settings: Record<string, number | string | boolean>;
  savedAt: string;
}

export interface Checkpoint {
  metadata: UNetMetadata;
  state: TrainingState;
  weights: NamedWeights;
}

/** Serialise a checkpoint (float32 weights, so a restore is exact). */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const { modelJson, weightData } = encodeWeights(checkpoint.weights, {
    metadata: { ...checkpoint.metadata, training: checkpoint.state },
    binName: 'weights.bin',
  });
  const json = new TextEncoder().encode(JSON.stringify(modelJson));
  const out = new Uint8Array(12 + json.length + weightData.byteLength);
  for (let i = 0; i < 4; i++) out[i] = CHECKPOINT_MAGIC.charCodeAt(i);
  const view = new DataView(out.buffer);
  view.setUint32(4, CHECKPOINT_VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(new Uint8Array(weightData), 12 + json.length);
  return out;
}

/** Parse a checkpoint; throws an Error naming `source` and the problem for anything that is not a valid one. */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const fail = (why: string): never => {
    throw new Error(`${source} is not a valid Diffusion Lab checkpoint: ${why}`);
  };
  if (bytes.length < 12) fail(`only ${bytes.length} bytes`);
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== CHECKPOINT_MAGIC) fail(`it does not start with "${CHECKPOINT_MAGIC}"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== CHECKPOINT_VERSION) fail(`format version ${version}, this site reads version ${CHECKPOINT_VERSION}`);
  const jsonLength = view.getUint32(8, true);
  if (12 + jsonLength > bytes.length) fail('it is truncated (the header promises more bytes than there are)');
  let modelJson: Record<string, unknown>;
  try {
    modelJson = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + jsonLength)));
  } catch (e) {
    return fail(`its header is not valid JSON (${(e as Error).message})`);
  }
  const data = bytes.slice(12 + jsonLength).buffer;
  let decoded: ReturnType<typeof decodeWeights>;
  try {
    decoded = decodeWeights(modelJson, data, source);
  } catch (e) {
    return fail((e as Error).message);
  }
  const { training, ...rest } = decoded.metadata as { training?: unknown } & Record<string, unknown>;
  let metadata: UNetMetadata;
  try {
    metadata = parseUNetMetadata(rest, source);
  } catch (e) {
    return fail((e as Error).message);
  }
  return { metadata, state: parseTrainingState(training, fail), weights: decoded.weights };
}

/** Most (step, loss) points a restored history keeps; a longer one is thinned (first and last kept). */
export { LOSS_HISTORY_CAP };
/** Most steps a checkpoint may claim (lab.run's own bound on maxSteps). */
export const MAX_CHECKPOINT_STEP = 1e9;

/**
 * The training state of a decoded file, checked field by field: `step` an integer in [0, 1e9]; `lossHistory`
 * finite [step, loss] pairs with integer steps, non-decreasing, at most `step` (more than LOSS_HISTORY_CAP are
 * thinned by min/max per bucket, first and last kept); `settings` a plain object (the lab cleans its values
 * against its own declaration). Anything else → `fail` with a message naming the field.
 */
export function parseTrainingState(training: unknown, fail: (why: string) => never): TrainingState {
  if (!training || typeof training !== 'object' || Array.isArray(training)) return fail('it has no training state');
  const t = training as Record<string, unknown>;
  const step = t.step;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > MAX_CHECKPOINT_STEP) {
    return fail(`training "step" must be an integer from 0 to ${MAX_CHECKPOINT_STEP}, got ${String(step).slice(0, 40)}`);
  }
  const raw = t.lossHistory;
  if (!Array.isArray(raw)) return fail(`"lossHistory" must be an array of [step, loss] pairs, got ${raw === null ? 'null' : typeof raw}`);
  const history: [number, number][] = new Array(raw.length);
  let prev = 0;
  for (let i = 0; i < raw.length; i++) {
    const e: unknown = raw[i];
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'number' || typeof e[1] !== 'number' || !Number.isInteger(e[0]) || !Number.isFinite(e[1])) {
      return fail(`"lossHistory" entry ${i} is not a [step, loss] pair of an integer step and a finite loss`);
    }
    if (e[0] < prev || e[0] > step) return fail(`"lossHistory" entry ${i} has step ${e[0]}: steps must not decrease and must lie in [0, ${step}]`);
    prev = e[0];
    history[i] = [e[0], e[1]];
  }
  const settings = t.settings;
  if (!settings || typeof settings !== 'object' || Array.isArray(settings)) return fail('training "settings" must be an object');
  return {
    step,
    lossHistory: history.length > LOSS_HISTORY_CAP ? downsampleMinMax(history, LOSS_HISTORY_CAP) : history,
    settings: settings as TrainingState['settings'],
    savedAt: typeof t.savedAt === 'string' ? t.savedAt.slice(0, 64) : '',
  };
}
