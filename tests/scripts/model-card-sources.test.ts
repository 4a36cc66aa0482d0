/**
 * The shipped model cards come out of their generators: the training jobs' texts (re-rendered without training by
 * `npm run train -- <model> --card-only`) and the eval sections (re-rendered by `npm run eval -- <section> --set
 * card=only`). Re-rendering a copy of each shipped folder gives the committed README byte for byte, and no
 * generator writes the project's process words into a card.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processWordFindings } from '../../scripts/check-content';
import latentSection from '../../scripts/eval/latent';
import { renderLatentCard } from '../../scripts/eval/latentCard';
import unetSection from '../../scripts/eval/unet';
import classifierJob from '../../scripts/jobs/classifier-mnist';
import clipJob from '../../scripts/jobs/clip-mnist';
import text2imgJob from '../../scripts/jobs/text2img-mnist';
import latentAeJob from '../../scripts/jobs/latent-mnist-ae';
import latentJob from '../../scripts/jobs/latent-mnist';
import unetJob from '../../scripts/jobs/unet-mnist';
import type { TrainConfig, TrainJob } from '../../scripts/lib/job';
import { evalSections, reproduceCommand, rewriteModelCard } from '../../scripts/lib/modelFolder';

const ROOT = resolve(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'cards-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const evalJson = () => JSON.parse(readFileSync(join(ROOT, 'models', 'eval.json'), 'utf8')) as Record<string, Record<string, unknown>>;

/** A copy of a shipped model folder (files only) in the temporary folder. */
function copyFolder(rel: string): string {
  const dir = join(tmp, rel.replace(/\//g, '_'));
  cpSync(join(ROOT, rel), dir, { recursive: true });
  return dir;
}

describe('the shipped model cards', () => {
  it('unet-mnist: the job’s card and the eval section re-render to the committed README', async () => {
    const dir = copyFolder('models/unet-mnist');
    const committed = readFileSync(join(dir, 'README.md'), 'utf8');
    const text = rewriteModelCard(unetJob, dir);
    expect(text).toBe(committed);
    // The eval section is what `npm run eval -- unet` writes for the numbers in models/eval.json.
    const unet = evalJson().unet;
    const patch = await unetSection.finish!(unet, { options: { card: false }, root: ROOT } as never);
    const block = `<!-- eval:unet -->\n## Sampler comparison (\`npm run eval -- unet\`)\n\n${unetSection.format!({ ...unet, ...(patch ?? {}) })}\n<!-- /eval:unet -->`;
    expect(evalSections(committed)).toBe(block);
  });

  it('latent-mnist/denoiser: the job’s card re-renders to the committed README', () => {
    const dir = copyFolder('models/latent-mnist/denoiser');
    const committed = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(rewriteModelCard(latentJob, dir)).toBe(committed);
  });

  it('latent-mnist: the eval section’s card re-renders to the committed README', async () => {
    const latent = evalJson().latent;
    const patch = await latentSection.finish!(latent, { options: { card: false }, root: ROOT } as never);
    const dir = join(ROOT, 'models', 'latent-mnist');
    expect(renderLatentCard({ ...latent, ...(patch ?? {}) }, dir)).toBe(readFileSync(join(dir, 'README.md'), 'utf8'));
  });

  it('text2img-mnist: the job’s card re-renders to the committed README', () => {
    const dir = copyFolder('models/text2img-mnist');
    expect(rewriteModelCard(text2imgJob, dir)).toBe(readFileSync(join(dir, 'README.md'), 'utf8'));
  });

  it('clip-mnist: the job’s card re-renders to the committed README', () => {
    const dir = copyFolder('models/clip-mnist');
    expect(rewriteModelCard(clipJob, dir)).toBe(readFileSync(join(dir, 'README.md'), 'utf8'));
  });

  it('and every other card in models/ are free of process words', () => {
    const cards = ['unet-mnist', 'latent-mnist', 'latent-mnist/denoiser', 'latent-mnist/autoencoder', 'classifier-mnist', 'clip-mnist', 'text2img-mnist'].map((m) => join('models', m, 'README.md'));
    expect(cards.flatMap((c) => processWordFindings(readFileSync(join(ROOT, c), 'utf8'), c))).toEqual([]);
  });
});

describe('the card generators', () => {
  it('write no process words in any job’s texts', () => {
    const jobs: TrainJob[] = [unetJob, latentJob, latentAeJob, classifierJob, clipJob, text2imgJob];
    for (const job of jobs) {
      const texts = [job.title, job.summary, job.data, job.architecture(job.defaults), job.notes?.({ rows: [], summary: {} }) ?? '', job.samplesCaption?.(job.defaults) ?? ''];
      expect(texts.flatMap((t) => processWordFindings(t, job.name)), job.name).toEqual([]);
    }
  });

  it('write no process words in the eval sections, whatever the numbers say', async () => {
    const unet = evalJson().unet;
    const patch = await unetSection.finish!(unet, { options: { card: false }, root: ROOT } as never);
    expect(processWordFindings(unetSection.format!({ ...unet, ...(patch ?? {}) }), 'eval unet')).toEqual([]);
    const latent = evalJson().latent;
    const lpatch = await latentSection.finish!(latent, { options: { card: false }, root: ROOT } as never);
    expect(processWordFindings(renderLatentCard({ ...latent, ...(lpatch ?? {}) }, join(ROOT, 'models', 'latent-mnist')), 'eval latent')).toEqual([]);
  });
});

describe('rewriteModelCard', () => {
  const job: TrainJob = {
    name: 'toy',
    title: 'Toy model',
    summary: 'A model for tests.',
    data: 'Some digits.',
    architecture: (c) => `Width ${c.options.width}.`,
    defaults: { steps: 10, batchSize: 4, learningRate: 0.01, seed: 1, checkpointEvery: 5, logEvery: 1, options: { width: 8 } },
    notes: (e) => `## Notes\n\nAccuracy ${e.summary.accuracy}.`,
    evaluationRows: (s, c) => [{ metric: 'accuracy', value: s.accuracy, note: `width ${c.options.width}` }],
    samplesCaption: (c) => `Samples of width ${c.options.width}.`,
    create: () => {
      throw new Error('not trained here');
    },
  };
  const config: TrainConfig = { ...job.defaults, steps: 12, options: { width: 16 } };

  it('renders from config.json and the job, keeps the eval sections and reproduces the run', () => {
    const dir = join(tmp, 'toy');
    cpSync(join(ROOT, 'models', 'classifier-mnist'), dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: 'toy', config, paramCount: 42, steps: 12, wallTimeSec: 75, backend: 'cpu', machine: '1 core', evaluation: { accuracy: 0.5 } }));
    writeFileSync(join(dir, 'README.md'), '# old\n\n<!-- eval:toy -->\n## Measured\n\nkept\n<!-- /eval:toy -->\n');
    const text = rewriteModelCard(job, dir);
    expect(text).toContain('Width 16.');
    expect(text).toContain('| accuracy | 0.5000 | width 16 |');
    expect(text).toContain('Samples of width 16.');
    expect(text).toContain('Accuracy 0.5.');
    expect(text).toContain('Reproduce with `npm run train -- toy --fresh --steps 12 --set width=16`.');
    expect(text.trimEnd().endsWith('<!-- eval:toy -->\n## Measured\n\nkept\n<!-- /eval:toy -->')).toBe(true);
    expect(text).toMatch(/\| README\.md \| \d+ B \|/);
    expect(readdirSync(dir)).toContain('README.md');
  });

  it('refuses a job that cannot render its table without evaluating, and another model’s folder', () => {
    const dir = join(tmp, 'toy');
    expect(() => rewriteModelCard({ ...job, evaluationRows: undefined }, dir)).toThrow(/no evaluationRows/);
    expect(() => rewriteModelCard({ ...job, name: 'other' }, dir)).toThrow(/belongs to toy/);
  });

  it('writes the command that reproduces a config', () => {
    expect(reproduceCommand(job, job.defaults)).toBe('npm run train -- toy --fresh');
    expect(reproduceCommand(job, { ...job.defaults, seed: 3, threads: 2 }, 'models/x')).toBe('npm run train -- toy --fresh --seed 3 --threads 2 --out models/x');
  });
});
