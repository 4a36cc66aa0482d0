/**
 * Stable Diffusion v1's published sizes: the constants of another system, which the lessons compare with ours. They
 * live here and nowhere else; the lessons and <SdComparison> import them. Sources: Rombach et al. 2022 (the latent
 * diffusion paper, reference `rombach2022`) and the v1 checkpoints' configuration (v1-inference.yaml: f = 8, 4 latent
 * channels, scale factor 0.18215, β from 0.00085 to 0.012 on a square-root scale, context width 768); the frozen text
 * encoder is the text half of CLIP ViT-L/14 (Radford et al. 2021, reference `radford2021`): a byte-pair vocabulary of
 * 49,408 tokens, 77 positions, 12 transformer blocks of width 768. Parameter counts are the usual rounded figures (U-Net ≈ 860 million, text encoder
 * ≈ 123 million, autoencoder ≈ 84 million).
 */

export const STABLE_DIFFUSION_V1 = {
  /** Where the figures come from, as the references page keys them. */
  references: ['rombach2022', 'radford2021'],
  /** [H, W, C] of a generated image. */
  imageShape: [512, 512, 3],
  /** [H, W, C] of the latent the U-Net denoises. */
  latentShape: [64, 64, 4],
  /** How much the autoencoder shrinks each side. */
  downsampling: 8,
  /** The latent scale factor (one over the latents' standard deviation). */
  latentScale: 0.18215,
  /** Token positions of the text encoder (prompts are padded or cut to this). */
  contextLength: 77,
  /** Entries of CLIP's byte-pair vocabulary. */
  vocabSize: 49408,
  /** Transformer blocks of the text encoder (CLIP ViT-L/14's text half). */
  textLayers: 12,
  /** Numbers per token state, the width cross-attention reads. */
  textWidth: 768,
  /** Approximate parameter counts, as usually quoted. */
  params: { textEncoder: 123e6, unet: 860e6, autoencoder: 84e6 },
  /** The training noise schedule: β from betaStart to betaEnd on a square-root scale over T steps. */
  schedule: { T: 1000, betaStart: 0.00085, betaEnd: 0.012 },
  /** The share of training captions replaced by the empty prompt (for classifier-free guidance). */
  pUncond: 0.1,
  /** The usual default guidance scale s (= 1 + w). */
  guidanceScale: 7.5,
} as const;

export type StableDiffusionV1 = typeof STABLE_DIFFUSION_V1;

/** Numbers in a shape: 64 × 64 × 4 → 16,384. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A shape as the lessons write it: "64 × 64 × 4". */
export function shapeText(shape: readonly number[]): string {
  return shape.join(' × ');
}

/** A rounded count in words: 860e6 → "860 million", 1.067e9 → "1.07 billion", 49408 → "49,408". */
export function countWords(n: number): string {
  const words: [number, string][] = [
    [1e9, 'billion'],
    [1e6, 'million'],
  ];
  for (const [unit, word] of words) {
    if (Math.abs(n) >= unit) {
      const x = n / unit;
      const digits = x >= 100 ? 0 : x >= 10 ? 1 : 2;
      return `${Number(x.toFixed(digits)).toLocaleString('en')} ${word}`;
    }
  }
  return Math.round(n).toLocaleString('en');
}
