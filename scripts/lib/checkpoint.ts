/**
 * Node-only: training checkpoints in .cache/checkpoints/<model>/ — `state.json` (step, RNG state, loss
 * history, config, wall time) plus model.json + weights.bin in float32 holding the parameters
 * (`params/<name>`), the optimiser slots (`optimizer/<name>`) and any extra state (`extra/<name>`).
 * Written to a temporary folder and swapped in with renames, so an interrupted save never leaves a
 * half-written checkpoint behind.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NamedWeights } from '../../src/core/io';
import type { TrainConfig } from './job';
import { loadWeightsFromDir, saveWeightsToDir } from './weights-file';

export const CHECKPOINT_VERSION = 1;

export interface CheckpointState {
  job: string;
  /** Steps completed. */
  step: number;
  /** SeededRandom state after `step` steps. */
  rngState: number;
  config: TrainConfig;
  /** (step, mean loss over the preceding logEvery steps). */
  lossHistory: [number, number][];
  /** Training wall time so far, over all sessions. */
  elapsedMs: number;
  backend: string;
  params: NamedWeights;
  optimizer: NamedWeights;
  extra: NamedWeights;
}

const GROUPS = ['params', 'optimizer', 'extra'] as const;

export function saveCheckpoint(dir: string, state: CheckpointState): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const weights: NamedWeights = {};
  for (const g of GROUPS) for (const [k, v] of Object.entries(state[g])) weights[`${g}/${k}`] = v;
  saveWeightsToDir(tmp, weights, { metadata: { job: state.job, step: state.step } });
  const { params: _p, optimizer: _o, extra: _e, ...meta } = state;
  writeFileSync(join(tmp, 'state.json'), JSON.stringify({ version: CHECKPOINT_VERSION, ...meta }) + '\n');
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** The checkpoint in `dir`, or null when there is none. Throws (naming the file) when it is unreadable. */
export function loadCheckpoint(dir: string): CheckpointState | null {
  const statePath = join(dir, 'state.json');
  if (!existsSync(statePath)) return null;
  let meta: Omit<CheckpointState, (typeof GROUPS)[number]> & { version: number };
  try {
    meta = JSON.parse(readFileSync(statePath, 'utf8'));
  } catch (e) {
    throw new Error(`${statePath}: invalid JSON (${(e as Error).message})`);
  }
  if (meta.version !== CHECKPOINT_VERSION) throw new Error(`${statePath}: checkpoint version ${meta.version}, expected ${CHECKPOINT_VERSION}`);
  const { weights } = loadWeightsFromDir(dir);
  const groups = { params: {}, optimizer: {}, extra: {} } as Record<(typeof GROUPS)[number], NamedWeights>;
  for (const [name, w] of Object.entries(weights)) {
    const slash = name.indexOf('/');
    const g = name.slice(0, slash) as (typeof GROUPS)[number];
    if (!GROUPS.includes(g)) throw new Error(`${join(dir, 'model.json')}: unexpected checkpoint entry "${name}"`);
    groups[g][name.slice(slash + 1)] = w;
  }
  const { version: _v, ...rest } = meta;
  return { ...rest, ...groups };
}

export function deleteCheckpoint(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
