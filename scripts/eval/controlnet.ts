/**
 * Eval section `controlnet`: controlnet-mnist steering the frozen latent-mnist denoiser with held-out skeletons
 * (src/core/control.ts), at every control scale λ, with DDIM (η = 0) and class guidance w:
 *
 * - fidelity: the skeleton of each sample against its hint — the symmetric chamfer distance in pixels (lower is
 *   closer) and the F-score of skeleton pixels matched within 1 px — the hint's own digit requested;
 * - agreement: the share classifier-mnist reads as the requested digit, same samples;
 * - diversity: the mean RMS pixel distance between samples of one hint and digit from different noises;
 * - conflict: the hint of one digit with another digit requested — the share read as the requested digit, as
 *   the hint's digit, and the F-score (what wins, the class or the drawing?).
 *
 * λ = 0 is the frozen model alone: its fidelity is what a sample of the right digit matches by chance.
 * Options: perClass=20 (hints per digit)  divPerClass=2  seeds=4  steps=25  ws=3,0  scales=0,0.5,1,1.5
 */
import { join } from 'node:path';
import { loadWeightsFromDir } from '../lib/weights-file';
import { parseControlNetMetadata, controlNetFromWeights, checkBase } from '../../src/core/controlnet';
import { loadAutoencoderDir } from '../jobs/_latent';
import { evaluateControl, loadBaseDenoiser, type ControlPipeline, type ControlRow } from '../jobs/controlnet-mnist';
import { markdownTable, type EvalSection } from './common';

const list = (v: unknown, fallback: string) => String(v ?? fallback).split(',').map(Number);

const section: EvalSection = {
  name: 'controlnet',
  title: 'ControlNet: skeleton fidelity, class agreement and diversity by control scale',
  async run(ctx) {
    const dir = join(ctx.root, 'models', 'controlnet-mnist');
    const { weights, metadata: raw } = loadWeightsFromDir(dir);
    const metadata = parseControlNetMetadata(raw, join(dir, 'model.json'));
    const net = controlNetFromWeights(weights, metadata, dir);
    const { unet, schedule } = loadBaseDenoiser(join(dir, metadata.base));
    checkBase(net, unet, dir);
    const { autoencoder, metadata: aeMeta } = loadAutoencoderDir(join(dir, metadata.autoencoder ?? '../latent-mnist/autoencoder/'));
    const p: ControlPipeline = { unet, net, autoencoder, latentScale: aeMeta.latentScale, schedule };
    const o = ctx.options;
    const perClass = Number(o.perClass ?? 20);
    const opts = { perClass, diversityPerClass: Number(o.divPerClass ?? 2), seeds: Number(o.seeds ?? 4), steps: Number(o.steps ?? 25), scales: list(o.scales, '0,0.5,1,1.5') };
    const paramCount = net.paramCount();
    const byW: Record<string, ControlRow[]> = {};
    try {
      for (const w of list(o.ws, '3,0')) {
        ctx.log(`controlnet: w = ${w}, ${10 * perClass} hints × ${opts.scales.length} scales`);
        byW[String(w)] = await evaluateControl(p, ctx.data.test, ctx.classifier, { ...opts, w });
      }
    } finally {
      net.dispose();
      unet.dispose();
      autoencoder.dispose();
    }
    return {
      hints: 10 * perClass,
      diversitySamples: 10 * opts.diversityPerClass * opts.seeds,
      steps: opts.steps,
      paramCount,
      byW,
    };
  },
  format(r) {
    const byW = (r.byW ?? {}) as Record<string, ControlRow[]>;
    const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
    return Object.entries(byW)
      .map(([w, rows]) =>
        `w = ${w}\n\n` +
        markdownTable(
          ['λ', 'chamfer (px)', 'F-score 1 px', 'requested digit', 'diversity', 'conflict: requested', 'conflict: hint', 'conflict F-score'],
          rows.map((x) => [String(x.scale), x.chamfer.toFixed(2), x.f1.toFixed(3), pct(x.agree), x.diversity.toFixed(3), pct(x.conflictRequested), pct(x.conflictHint), x.conflictF1.toFixed(3)]),
        ),
      )
      .join('\n\n');
  },
};

export default section;
