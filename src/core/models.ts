/**
 * Shipped diffusion models as files: a U-Net's weights in TensorFlow.js weights format (io.ts) with its
 * configuration and noise schedule in the model.json's `userDefinedMetadata`. One loader serves the worker,
 * the Node scripts and the tests.
 */
import { loadWeightsFromUrl, encodeWeights, type EncodeOptions, type NamedWeights, type WeightsModelJson } from './io';
import { makeSchedule } from './schedules';
import type { Schedule, ScheduleKind } from './types';
import { createUNet, validateUNetConfig, type UNet, type UNetConfig } from './unet';

/** What a U-Net model file records besides its weights. */
export interface UNetMetadata {
  /** e.g. 'unet-mnist'. */
  name: string;
  config: UNetConfig;
  schedule: { kind: ScheduleKind; T: number };
  [key: string]: unknown;
}

/** Check `metadata` describes a U-Net; throws an Error naming `source`. */
export function parseUNetMetadata(metadata: Record<string, unknown>, source: string): UNetMetadata {
  const config = metadata.config as UNetConfig | undefined;
  const schedule = metadata.schedule as UNetMetadata['schedule'] | undefined;
  if (!config || typeof config !== 'object' || !Array.isArray(config.inputShape) || !Array.isArray(config.channels)) {
    throw new Error(`${source}: model.json has no U-Net configuration (userDefinedMetadata.config)`);
  }
  try {
    validateUNetConfig(config);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  if (!schedule || (schedule.kind !== 'linear' && schedule.kind !== 'cosine') || !Number.isInteger(schedule.T) || schedule.T < 1) {
    throw new Error(`${source}: model.json has no valid noise schedule (userDefinedMetadata.schedule)`);
  }
  return { ...metadata, name: String(metadata.name ?? 'unet'), config, schedule };
}

/** Build a U-Net from decoded weights; disposes it again if the weights do not fit. */
export function unetFromWeights(weights: NamedWeights, metadata: UNetMetadata, source: string): UNet {
  const unet = createUNet(metadata.config, 0);
  try {
    const values: Record<string, Float32Array> = {};
    for (const [name, w] of Object.entries(weights)) values[name] = w.data;
    unet.setWeights(values);
  } catch (e) {
    unet.dispose();
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  return unet;
}

export interface LoadedUNet {
  unet: UNet;
  schedule: Schedule;
  metadata: UNetMetadata;
}

/** Fetch `<baseUrl>/model.json` and its weights, and build the U-Net and its schedule. */
export async function loadUNet(baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<LoadedUNet> {
  const { weights, metadata: raw } = await loadWeightsFromUrl(baseUrl, fetchImpl);
  const metadata = parseUNetMetadata(raw, baseUrl);
  const unet = unetFromWeights(weights, metadata, baseUrl);
  return { unet, schedule: makeSchedule(metadata.schedule.kind, metadata.schedule.T), metadata };
}

/** Encode a U-Net and its metadata as {modelJson, weightData} (async: reads the weights). */
export async function encodeUNet(
  unet: UNet,
  metadata: Omit<UNetMetadata, 'config'>,
  opts: Omit<EncodeOptions, 'metadata'> = {},
): Promise<{ modelJson: WeightsModelJson; weightData: ArrayBuffer }> {
  const values = await unet.getWeights();
  const weights: NamedWeights = {};
  for (const [name, v] of unet.params) weights[name] = { shape: [...v.shape], data: values[name] };
  return encodeWeights(weights, { ...opts, metadata: { ...metadata, config: unet.config } });
}
