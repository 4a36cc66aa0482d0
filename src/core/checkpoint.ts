/**
 * A training-lab checkpoint as one file: the weights in TensorFlow.js weights format (io.ts) plus the U-Net
 * configuration, the noise schedule and the training state in its metadata. Layout (little-endian):
 *
 *   "DLCK" | uint32 version | uint32 byte length of the JSON | JSON (model.json) | weight data
 *
 * The same bytes go to IndexedDB and to an exported file; `decodeCheckpoint` refuses anything else with an
 * Error that says what is wrong, so a bad import never reaches the model.
 */
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
  const { training, ...rest } = decoded.metadata as { training?: TrainingState } & Record<string, unknown>;
  let metadata: UNetMetadata;
  try {
    metadata = parseUNetMetadata(rest, source);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!training || !Number.isInteger(training.step) || training.step < 0 || !Array.isArray(training.lossHistory)) {
    fail('it has no training state');
  }
  return { metadata, state: training as TrainingState, weights: decoded.weights };
}
