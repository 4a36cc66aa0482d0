import { describe, expect, it } from 'vitest';
import { ratioText, sdComparison, storedConfig, type OurPipelineFiles } from '../../src/components/lesson/sdComparison';
import { STABLE_DIFFUSION_V1, countWords, shapeSize, shapeText } from '../../src/components/lesson/stableDiffusion';

/** Parsed model.json files in the shape the training jobs write (userDefinedMetadata.config), made-up counts. */
function files(): OurPipelineFiles {
  return {
    clip: { userDefinedMetadata: { config: { vocabSize: 44, contextLength: 12, width: 64, heads: 4, layers: 2 } } },
    denoiser: { userDefinedMetadata: { config: { inputShape: [7, 7, 4], channels: [64], crossAttention: { contextDim: 64, heads: 4 } } } },
    autoencoder: { userDefinedMetadata: { config: { inputShape: [28, 28, 1], channels: [32, 64], latentChannels: 4 } } },
    counts: { clipText: 100_000, denoiser: 280_000, autoencoder: 60_000 },
  };
}

const row = (key: string, f = files()) => sdComparison(f).rows.find((r) => r.key === key)!;

describe('STABLE_DIFFUSION_V1', () => {
  it('holds consistent shapes: a 512 × 512 × 3 image shrunk 8 times per side into 64 × 64 × 4', () => {
    const SD = STABLE_DIFFUSION_V1;
    expect(SD.imageShape[0] / SD.latentShape[0]).toBe(SD.downsampling);
    expect(SD.imageShape[1] / SD.latentShape[1]).toBe(SD.downsampling);
    expect(shapeSize(SD.latentShape)).toBe(16384);
    expect(shapeText(SD.imageShape)).toBe('512 × 512 × 3');
    expect(SD.references).toContain('rombach2022');
  });

  it('writes rounded counts in words', () => {
    expect(countWords(860e6)).toBe('860 million');
    expect(countWords(84e6)).toBe('84 million');
    expect(countWords(1.067e9)).toBe('1.07 billion');
    expect(countWords(49408)).toBe('49,408');
  });
});

describe('sdComparison', () => {
  it('reads our side from the stored configs of model.json or config.json', () => {
    expect(storedConfig({ userDefinedMetadata: { config: { a: 1 } } })).toEqual({ a: 1 });
    expect(storedConfig({ metadata: { config: { a: 2 } } })).toEqual({ a: 2 });
    expect(storedConfig(undefined)).toBeUndefined();
  });

  it('puts tokens, state width, latent and image beside Stable Diffusion’s, with how many times larger theirs is', () => {
    expect(row('tokens')).toMatchObject({ stage: 'tokenizer', ours: { value: 12, text: '12' }, sd: { value: 77, approximate: false }, ratio: '6.4×' });
    expect(row('vocab').sd.text).toBe('49,408');
    expect(row('textWidth')).toMatchObject({ ours: { value: 64 }, sd: { value: 768 }, ratio: '12×' });
    expect(row('latent')).toMatchObject({ ours: { value: 196, text: '7 × 7 × 4 (196 numbers)' }, sd: { value: 16384, text: '64 × 64 × 4 (16,384 numbers)' }, ratio: '84×' });
    expect(row('image')).toMatchObject({ ours: { value: 784, text: '28 × 28 × 1 (784 numbers)' }, sd: { value: 786432 }, ratio: '1,000×' });
    expect(row('shrink')).toMatchObject({ ours: { value: 4 }, sd: { value: 8 }, ratio: '2.0×' });
    expect(row('perLatent')).toMatchObject({ ours: { value: 4, text: '4' }, sd: { value: 48 } });
  });

  it('marks parameter counts of ours for <ParamCount> and Stable Diffusion’s as approximate', () => {
    expect(row('textParams')).toMatchObject({ ours: { value: 100_000, param: { model: 'clip-mnist', part: 'text' } }, sd: { text: '≈ 123 million', approximate: true }, ratio: '≈ 1,200×' });
    expect(row('denoiserParams').ours.param).toEqual({ model: 'text2img-mnist', part: undefined });
    expect(row('aeParams').ours.param?.model).toBe('latent-mnist/autoencoder');
    expect(row('total')).toMatchObject({ ours: { value: 440_000, text: '440,000' }, sd: { value: 1.067e9, text: '≈ 1.07 billion' } });
  });

  it('lists the stages in pipeline order', () => {
    const stages = [...new Set(sdComparison(files()).rows.map((r) => r.stage))];
    expect(stages).toEqual(['tokenizer', 'text encoder', 'denoiser', 'autoencoder', 'all three networks']);
  });

  it('shows "—" for a missing file or field and names what is missing, never a guess', () => {
    const f = files();
    f.denoiser = undefined;
    f.counts.autoencoder = null;
    const v = sdComparison(f);
    const latent = v.rows.find((r) => r.key === 'latent')!;
    expect(latent.ours).toEqual({ text: '—', value: null });
    expect(latent.ratio).toBeNull();
    expect(v.rows.find((r) => r.key === 'total')!.ours.value).toBeNull();
    expect(v.missing).toEqual(expect.arrayContaining(['denoiser: latent it denoises', 'autoencoder: parameters (encoder and decoder)']));
  });

  it('flags a denoiser that reads states of another width than the text encoder writes', () => {
    const f = files();
    (f.denoiser as any).userDefinedMetadata.config.crossAttention.contextDim = 32;
    expect(sdComparison(f).problems.join()).toMatch(/width 32, clip-mnist writes 64/);
    expect(sdComparison(files()).problems).toEqual([]);
  });

  it('writes ratios with sensible precision', () => {
    expect(ratioText(6.4166, false)).toBe('6.4×');
    expect(ratioText(83.59, false)).toBe('84×');
    expect(ratioText(3071.4, true)).toBe('≈ 3,100×');
  });
});
