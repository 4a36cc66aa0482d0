/**
 * What the lessons and the model cards tell readers, checked on the sources (the built pages are checked by
 * `npm run check:content` after the build, scripts/check-content.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSources, mdxFigureFindings, weightCount } from '../../scripts/check-content';
import { SHIPPED_MODELS, shippedParamCount, type ShippedModel } from '../../src/components/lesson/files';
import { countClipParams, type ClipConfig } from '../../src/core/clip';
import { countUNetParams, type UNetConfig } from '../../src/core/unet';
import { crossAttentionParams } from '../../src/components/lesson/values';

const ROOT = process.cwd();
const LESSONS = join(ROOT, 'content', 'lessons');
const lessons = (): [string, string][] =>
  readdirSync(LESSONS)
    .filter((f) => f.endsWith('.mdx'))
    .sort()
    .map((f) => [f, readFileSync(join(LESSONS, f), 'utf8')]);
const modelJson = (model: string) => JSON.parse(readFileSync(join(ROOT, 'models', model, 'model.json'), 'utf8')) as { userDefinedMetadata?: { config?: unknown } };

describe('the lessons and the model cards', () => {
  it('never speak of the project’s own work organisation (sessions, issues, budgets, missed targets, TODOs)', () => {
    expect(checkSources(ROOT).filter((f) => f.what.startsWith('process word'))).toEqual([]);
  });

  it('type no FD or accuracy figure of our models: those come from models/eval.json or config.json through a component', () => {
    const found = lessons().flatMap(([f, text]) => mdxFigureFindings(text, f));
    expect(found).toEqual([]);
  });

  it('type none of Stable Diffusion’s sizes: they live in src/components/lesson/stableDiffusion.ts (code listings aside)', () => {
    const SD_FIGURES = [/(?<![\d,.])77\b/, /(?<![\d,.])768\b/, /(?<![\d,.])860\b/, /0\.18215/, /\b49,?4\d\d\b/, /\b123 million/, /\b84 million/, /64 × 64 × 4/, /512 × 512/, /\b512 \* 512/, /0\.00085/, /sdDefaultScale = \d/];
    const found = lessons().flatMap(([f, text]) => {
      const prose = text.replace(/^```[\s\S]*?^```/gm, '').replace(/^import .*$/gm, '');
      return SD_FIGURES.filter((re) => re.test(prose)).map((re) => `${f}: ${re.source}`);
    });
    expect(found).toEqual([]);
  });
});

describe('parameter counts', () => {
  const uses = lessons().flatMap(([f, text]) => [...text.matchAll(/<ParamCount\b([^>]*)\/>/g)].map((m) => ({ file: f, props: m[1] })));

  it('are used in the lessons, each naming a shipped model by its folder (never a code constant)', () => {
    expect(uses.length).toBeGreaterThanOrEqual(4);
    for (const u of uses) {
      expect(u.props, u.file).not.toMatch(/\bconfig=/);
      const model = /\bmodel="([^"]+)"/.exec(u.props)?.[1];
      expect(SHIPPED_MODELS as readonly string[], `${u.file}: ${u.props}`).toContain(model);
    }
  });

  it('each equal the number of values in the weights of the model.json they name', () => {
    for (const u of uses) {
      const model = /\bmodel="([^"]+)"/.exec(u.props)![1] as ShippedModel;
      const part = /\bpart="([^"]+)"/.exec(u.props)?.[1];
      if (part !== undefined) continue;
      expect(shippedParamCount(model), `${u.file}: ${model}`).toBe(weightCount(modelJson(model)));
    }
    for (const model of SHIPPED_MODELS) expect(shippedParamCount(model), model).toBe(weightCount(modelJson(model)));
  });

  it('of a U-Net’s parts add up to its model.json, whose stored config counts the same', () => {
    for (const model of ['unet-mnist', 'latent-mnist/denoiser'] as const) {
      const cfg = modelJson(model).userDefinedMetadata?.config as UNetConfig;
      expect(countUNetParams(cfg), model).toBe(weightCount(modelJson(model)));
      const parts = ['time', 'class', 'in', ...cfg.channels.map((_, i) => `down${i}`), ...(cfg.attention ? ['mid'] : []), ...cfg.channels.map((_, i) => `up${i}`), 'out'];
      expect(parts.reduce((n, p) => n + (shippedParamCount(model, p) ?? NaN), 0), model).toBe(weightCount(modelJson(model)));
    }
    expect(() => shippedParamCount('latent-mnist/autoencoder', 'mid')).toThrow(/only defined for U-Nets/);
    expect(() => shippedParamCount('unet-mnist', 'nope')).toThrow(/no part/);
  });

  it('of the text-to-image U-Net add up, its cross-attention layers among them', () => {
    const cfg = modelJson('text2img-mnist').userDefinedMetadata?.config as UNetConfig;
    const total = weightCount(modelJson('text2img-mnist'));
    expect(countUNetParams(cfg)).toBe(total);
    const parts = ['time', 'in', ...cfg.channels.map((_, i) => `down${i}`), 'mid', ...cfg.channels.map((_, i) => `up${i}`), 'out'];
    expect(parts.reduce((n, p) => n + (shippedParamCount('text2img-mnist', p) ?? NaN), 0)).toBe(total);
    expect(shippedParamCount('text2img-mnist', 'xattn')).toBe(crossAttentionParams(cfg).params);
    expect(() => shippedParamCount('unet-mnist', 'xattn')).toThrow(/needs a U-Net with cross-attention/);
  });

  it('of a CLIP’s text and image encoders add up, with its temperature, to its model.json', () => {
    const cfg = modelJson('clip-mnist').userDefinedMetadata?.config as ClipConfig;
    const total = weightCount(modelJson('clip-mnist'));
    expect(countClipParams(cfg).total).toBe(total);
    const part = (p: string) => shippedParamCount('clip-mnist', p) ?? NaN;
    expect(part('text') + part('image') + part('logitScale')).toBe(total);
    expect(part('tokenEmbedding') + part('positionEmbedding') + part('textBlocks') + part('textHead')).toBe(part('text'));
    expect(() => shippedParamCount('clip-mnist', 'mid')).toThrow(/no part/);
  });
});
