/** Node-only: save and load TensorFlow.js-format weights (model.json + .bin, see src/core/io.ts) on disk. */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeWeights, encodeWeights, validateModelJson, type EncodeOptions, type NamedWeights } from '../../src/core/io';

/** Indented JSON with arrays of numbers (shapes, loss pairs) kept on one line. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/\[[-\d.eE+,\s]*\]/g, (m) => m.replace(/\s+/g, '')) + '\n';
}

/** Write `<dir>/model.json` and its .bin; returns the byte sizes written. */
export function saveWeightsToDir(dir: string, weights: NamedWeights, opts: EncodeOptions = {}): { jsonBytes: number; binBytes: number } {
  mkdirSync(dir, { recursive: true });
  const { modelJson, weightData } = encodeWeights(weights, opts);
  const json = compactJson(modelJson);
  const bin = join(dir, modelJson.weightsManifest[0].paths[0]);
  writeFileSync(bin + '.tmp', new Uint8Array(weightData));
  renameSync(bin + '.tmp', bin);
  writeFileSync(join(dir, 'model.json.tmp'), json);
  renameSync(join(dir, 'model.json.tmp'), join(dir, 'model.json'));
  return { jsonBytes: Buffer.byteLength(json), binBytes: weightData.byteLength };
}

/** Read `<dir>/model.json` and its .bin files; errors name the file at fault. */
export function loadWeightsFromDir(dir: string): { weights: NamedWeights; metadata: Record<string, unknown> } {
  const jsonPath = join(dir, 'model.json');
  if (!existsSync(jsonPath)) throw new Error(`${jsonPath}: no such file`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new Error(`${jsonPath}: invalid JSON (${(e as Error).message})`);
  }
  const { paths } = validateModelJson(json, jsonPath);
  const buffers = paths.map((p) => {
    const file = join(dir, p);
    if (!existsSync(file)) throw new Error(`${file} (listed in ${jsonPath}): no such file`);
    const b = readFileSync(file);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return decodeWeights(json, buffers, jsonPath);
}

/** Remove a weights folder written by saveWeightsToDir (model.json and the .bin files it lists). */
export function removeWeightsDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
