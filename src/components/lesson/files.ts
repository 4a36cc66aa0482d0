/**
 * Build-time only (Astro frontmatter, Node): read the numbers that training and evaluation write to models/.
 * A missing file or key never fails the build: the caller renders "—" and the build log gets one warning.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MNIST_UNET_CONFIG, type UNetConfig } from '../../core/unet';
import { getPath } from './values';

const cache = new Map<string, unknown>();
const warned = new Set<string>();

/** console.warn once per message (a value used on several pages warns once). */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(`[lesson values] ${message}`);
}

/** Parsed JSON of a file relative to the project root, or undefined (with a warning) when missing or invalid. */
export function readJson(relPath: string): unknown {
  if (cache.has(relPath)) return cache.get(relPath);
  const file = resolve(process.cwd(), relPath);
  let value: unknown;
  if (!existsSync(file)) {
    warnOnce(`${relPath} does not exist yet; its values render as —`);
  } else {
    try {
      value = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      warnOnce(`${relPath} is not valid JSON (${(e as Error).message}); its values render as —`);
    }
  }
  cache.set(relPath, value);
  return value;
}

/** A value at a dotted path in a JSON file, or undefined (with a warning) when the file or key is missing. */
export function jsonValue(relPath: string, path: string): unknown {
  const root = readJson(relPath);
  if (root === undefined) return undefined;
  const v = getPath(root, path);
  if (v === undefined) warnOnce(`${relPath} has no key "${path}"; it renders as —`);
  return v;
}

/** The U-Net configuration the shipped model was trained with (models/unet-mnist/config.json), else MNIST_UNET_CONFIG. */
export function shippedUNetConfig(): { config: UNetConfig; source: 'models/unet-mnist/config.json' | 'MNIST_UNET_CONFIG' } {
  const rel = 'models/unet-mnist/config.json';
  if (!existsSync(resolve(process.cwd(), rel))) return { config: MNIST_UNET_CONFIG, source: 'MNIST_UNET_CONFIG' };
  const c = getPath(readJson(rel), 'metadata.config') as Partial<UNetConfig> | undefined;
  const ok =
    c !== undefined &&
    Array.isArray(c.inputShape) &&
    Array.isArray(c.channels) &&
    typeof c.numResBlocks === 'number' &&
    typeof c.attention === 'boolean' &&
    typeof c.tembDim === 'number' &&
    typeof c.groups === 'number' &&
    typeof c.numClasses === 'number';
  if (!ok) {
    warnOnce(`${rel} has no usable metadata.config; using MNIST_UNET_CONFIG`);
    return { config: MNIST_UNET_CONFIG, source: 'MNIST_UNET_CONFIG' };
  }
  return { config: c as UNetConfig, source: rel };
}
