/**
 * Every symbol the lessons use, as plain data for src/pages/glossary.astro, with a pattern that finds it in the
 * TeX of a lesson ($…$ and $$…$$), so the glossary lists the lessons that actually use each symbol.
 */

export interface GlossaryEntry {
  /** Anchor on the glossary page. */
  id: string;
  /** TeX of the symbol as the lessons write it. */
  tex: string;
  name: string;
  meaning: string;
  /** Its name in the code of this site, if it has one. */
  code?: string;
  /** Matches the symbol in a lesson's maths. (`meaning` may contain $…$ TeX, typeset by the page.) */
  pattern: RegExp;
  /**
   * Match against the maths with text-like groups (\text{…}, \operatorname{…}, \mathrm{…}, \mathbb{…},
   * \mathcal{…}) removed: for single letters that also occur inside words.
   */
  letter?: boolean;
}

/** Lookbehind/lookahead for a lone letter: not part of a command or a longer name. */
const lone = (c: string) => new RegExp(`(?<![\\\\A-Za-z])${c}(?![A-Za-z])`);

export const GLOSSARY: readonly GlossaryEntry[] = [
  { id: 'x0', tex: 'x_0', name: 'clean image', meaning: 'A training image (or the final generated one), pixels scaled to $[-1, 1]$; the state at $t = 0$.', code: 'x0', pattern: /x_0|x_\{0\}/ },
  { id: 'xt', tex: 'x_t', name: 'noisy image at step t', meaning: 'The image after $t$ forward steps: $\\sqrt{\\bar\\alpha_t}\\,x_0 + \\sqrt{1-\\bar\\alpha_t}\\,\\varepsilon$.', code: 'xt', pattern: /x_t(?![A-Za-z])|x_\{t\}/ },
  { id: 'xT', tex: 'x_T', name: 'pure noise', meaning: 'The last state of the forward process; generation starts from a fresh sample of $\\mathcal{N}(0, I)$ in its place.', code: 'xT', pattern: /x_T(?![A-Za-z])/ },
  { id: 'xtm1', tex: "x_{t-1},\\ x_{t'}", name: 'previous state', meaning: 'The state one step earlier (DDPM), or at any earlier visited timestep $t\'$ (DDIM).', pattern: /x_\{t-1\}|x_\{t'\}/ },
  { id: 't', tex: 't', name: 'timestep', meaning: 'An integer from $0$ (clean) to $T$ (pure noise). In rectified flow (lesson 11), a continuous time from 0 to 1.', code: 't', pattern: lone('t'), letter: true },
  { id: 'T', tex: 'T', name: 'number of steps', meaning: 'Length of the forward process; $T = 1000$ throughout the course.', code: 'T', pattern: lone('T'), letter: true },
  { id: 'tprime', tex: "t'", name: 'target timestep', meaning: 'The earlier timestep a DDIM step jumps to.', code: 'tPrev', pattern: /t'/ },
  { id: 'beta', tex: '\\beta_t', name: 'beta, noise variance of step t', meaning: 'The variance of the noise forward step $t$ adds; the list $\\beta_1, \\dots, \\beta_T$ is the noise schedule.', code: 'beta', pattern: /(?<!\\tilde\s?)\\beta/ },
  { id: 'alpha', tex: '\\alpha_t = 1 - \\beta_t', name: 'alpha', meaning: 'The share of variance one forward step keeps.', code: 'alpha', pattern: /(?<!\\bar\s?)\\alpha/ },
  { id: 'alphabar', tex: '\\bar\\alpha_t', name: 'alpha-bar, signal share', meaning: 'The product $\\alpha_1 \\cdots \\alpha_t$: the share of the image’s variance left after $t$ steps; $\\bar\\alpha_0 = 1$.', code: 'alphaBar', pattern: /\\bar\s?\\alpha/ },
  { id: 'eps', tex: '\\varepsilon', name: 'noise', meaning: 'A standard normal image, $\\mathcal{N}(0, I)$, mixed into $x_t$; the training target.', code: 'eps', pattern: /\\varepsilon(?!_\\theta)/ },
  { id: 'epstheta', tex: '\\varepsilon_\\theta(x_t, t),\\ \\hat\\varepsilon', name: 'predicted noise', meaning: 'The network’s guess of $\\varepsilon$ from $x_t$ and $t$ (and a condition $c$, when there is one).', code: 'epsPred', pattern: /\\varepsilon_\\theta|\\hat\s?\\varepsilon/ },
  { id: 'epstilde', tex: '\\tilde\\varepsilon', name: 'guided noise estimate', meaning: 'The noise estimate after classifier or classifier-free guidance.', pattern: /\\tilde\s?\\varepsilon/ },
  { id: 'theta', tex: '\\theta', name: 'theta, network weights', meaning: 'All trainable parameters of the denoiser.', code: 'params', pattern: /\\theta/ },
  { id: 'x0hat', tex: '\\hat x_0', name: 'predicted clean image', meaning: '$(x_t - \\sqrt{1-\\bar\\alpha_t}\\,\\hat\\varepsilon)/\\sqrt{\\bar\\alpha_t}$: the clean image implied by the network’s noise guess.', code: 'x0Pred', pattern: /\\hat\s?x_0/ },
  { id: 'mutilde', tex: '\\tilde\\mu_t', name: 'posterior mean', meaning: 'Mean of $q(x_{t-1} \\mid x_t, x_0)$: the best step back if $x_0$ were known.', pattern: /\\tilde\s?\\mu/ },
  { id: 'mutheta', tex: '\\mu_\\theta(x_t, t)', name: 'model mean', meaning: 'The mean of the learned reverse step: the posterior mean with $\\hat x_0$ in place of $x_0$.', pattern: /\\mu_\\theta/ },
  { id: 'betatilde', tex: '\\tilde\\beta_t', name: 'posterior variance', meaning: '$\\beta_t (1-\\bar\\alpha_{t-1})/(1-\\bar\\alpha_t)$, the variance of $q(x_{t-1} \\mid x_t, x_0)$; one choice of $\\sigma_t^2$.', code: 'betaTilde', pattern: /\\tilde\s?\\beta/ },
  { id: 'sigma', tex: '\\sigma_t', name: 'sigma, reverse-step noise', meaning: 'Standard deviation of the fresh noise added in a reverse step: $\\sqrt{\\beta_t}$ or $\\sqrt{\\tilde\\beta_t}$ for DDPM, set by $\\eta$ for DDIM.', code: 'sigma', pattern: /\\sigma/ },
  { id: 'z', tex: 'z', name: 'fresh noise; latent', meaning: 'A new standard normal draw in each sampling step (lessons 4 and 7); in latent diffusion (lessons 9 and 10), the autoencoder’s latent code, $z_t$ once noised to step $t$.', pattern: lone('z'), letter: true },
  { id: 'eta', tex: '\\eta', name: 'eta', meaning: 'DDIM’s stochasticity: 0 is deterministic; 1 over every step is DDPM with $\\sigma_t^2 = \\tilde\\beta_t$.', code: 'eta', pattern: /\\eta/ },
  { id: 'q', tex: 'q(x_t \\mid x_{t-1})', name: 'forward process', meaning: 'The fixed noising distributions: one step, the jump $q(x_t \\mid x_0)$, and the posterior $q(x_{t-1} \\mid x_t, x_0)$.', code: 'qSample', pattern: /(?<![A-Za-z\\])q\(/ },
  { id: 'ptheta', tex: 'p_\\theta(x_{t-1} \\mid x_t)', name: 'learned reverse process', meaning: 'The Gaussian reverse step whose mean the network provides.', pattern: /p_\\theta/ },
  { id: 'normal', tex: '\\mathcal{N}(\\mu, \\Sigma)', name: 'normal distribution', meaning: 'Gaussian with mean $\\mu$ and covariance $\\Sigma$; $\\mathcal{N}(0, I)$ is standard normal noise.', pattern: /\\mathcal\{N\}/ },
  { id: 'I', tex: 'I', name: 'identity matrix', meaning: '$\\beta I$ means independent noise of variance $\\beta$ in every pixel.', pattern: lone('I'), letter: true },
  { id: 's', tex: 's', name: 's (three uses)', meaning: 'The running index of a product ($\\bar\\alpha_t = \\prod_s \\alpha_s$); the cosine schedule’s offset $s = 0.008$; and a guidance scale (classifier guidance, and Stable Diffusion’s $s = 1 + w$).', pattern: lone('s'), letter: true },
  { id: 'f', tex: 'f(t)', name: 'cosine schedule function', meaning: '$\\cos^2\\bigl(\\frac{t/T + s}{1 + s}\\cdot\\frac{\\pi}{2}\\bigr)$, with $\\bar\\alpha_t = f(t)/f(0)$.', pattern: /f\(t\)/ },
  { id: 'snr', tex: '\\mathrm{SNR}_t', name: 'signal-to-noise ratio', meaning: '$\\bar\\alpha_t/(1-\\bar\\alpha_t)$: the image’s variance over the noise’s.', code: 'snr', pattern: /\\mathrm\{SNR\}/ },
  { id: 'lambda', tex: '\\lambda_t', name: 'log-SNR', meaning: '$\\ln \\mathrm{SNR}_t$: positive while the image dominates, 0 where $\\bar\\alpha_t = \\tfrac12$.', code: 'logSnr', pattern: /\\lambda/ },
  { id: 'L', tex: 'L_{\\text{simple}}', name: 'simple loss', meaning: 'The mean squared error $\\lVert \\varepsilon - \\varepsilon_\\theta(x_t, t) \\rVert^2$ over random $t$, $x_0$ and $\\varepsilon$.', code: 'epsLoss', pattern: /L_\{\\text\{simple\}\}/ },
  { id: 'E', tex: '\\mathbb{E}', name: 'expectation', meaning: 'Average over the random quantities written beneath it.', pattern: /\\mathbb\{E\}/ },
  { id: 'norm', tex: '\\lVert \\cdot \\rVert', name: 'length of a vector', meaning: 'Euclidean length; $\\lVert a - b \\rVert^2$ is a squared error summed over pixels.', pattern: /\\lVert/ },
  { id: 'score', tex: '\\nabla_{x} \\log p(x)', name: 'score', meaning: 'The gradient of the log-density: the direction towards more probable images; $\\varepsilon_\\theta \\approx -\\sqrt{1-\\bar\\alpha_t}\\,\\nabla \\log p_t(x_t)$.', pattern: /\\nabla/ },
  { id: 'omega', tex: '\\omega_i', name: 'embedding frequencies', meaning: 'Frequencies of the sinusoidal timestep embedding, $10000^{-i/(k-1)}$.', code: 'embeddingFrequencies', pattern: /\\omega/ },
  { id: 'k', tex: 'k', name: 'number of frequencies', meaning: 'How many sine (and cosine) features the timestep embedding has.', pattern: lone('k'), letter: true },
  { id: 'c', tex: 'c', name: 'condition', meaning: 'What the model is asked for: a class label or an encoded text prompt.', code: 'classes', pattern: lone('c'), letter: true },
  { id: 'null', tex: '\\varnothing', name: 'null condition', meaning: 'The “no condition” input: class id 10 for this site’s class-conditional models, the empty prompt "" for its text-to-image model and for Stable Diffusion; a negative prompt replaces it.', code: 'nullClass, EMPTY_PROMPT', pattern: /\\varnothing/ },
  { id: 'n', tex: 'n', name: 'negative condition', meaning: 'A condition to steer away from, in place of $\\varnothing$: a negative class (lesson 8) or a negative prompt’s token states (lesson 9). $\\varepsilon_\\theta(z_t, t, n)$ is the prediction the guided step moves away from: $\\tilde\\varepsilon = (1+w)\\,\\varepsilon_\\theta(z_t, t, c) - w\\,\\varepsilon_\\theta(z_t, t, n)$.', code: 'negative', pattern: lone('n'), letter: true },
  { id: 'y', tex: 'y', name: 'class label', meaning: 'The class a classifier is asked about in classifier guidance.', pattern: lone('y'), letter: true },
  { id: 'pphi', tex: 'p_\\phi(y \\mid x_t)', name: 'noisy-image classifier', meaning: 'The separate classifier of classifier guidance, trained on noisy images; $\\phi$ are its weights.', pattern: /p_\\phi/ },
  { id: 'w', tex: 'w', name: 'guidance strength', meaning: 'Ho & Salimans’ classifier-free guidance weight: $\\tilde\\varepsilon = (1+w)\\,\\varepsilon(x, c) - w\\,\\varepsilon(x, \\varnothing)$; $w = 0$ is the plain conditional model.', code: 'w', pattern: lone('w'), letter: true },
  { id: 'v', tex: 'v', name: 'velocity', meaning: 'v-prediction’s target $\\sqrt{\\bar\\alpha_t}\\,\\varepsilon - \\sqrt{1-\\bar\\alpha_t}\\,x_0$ (lesson 4), and the velocity field of rectified flow (lesson 11).', pattern: lone('v'), letter: true },
  { id: 'slerp', tex: '\\operatorname{slerp}(a, b; u)', name: 'spherical interpolation', meaning: 'Interpolation between two noise images $a$ and $b$ along a great circle, by the fraction $u$; $\\psi$ is the angle between them.', pattern: /slerp/ },
  { id: 'd', tex: 'd', name: 'dimension', meaning: 'The number of values in a vector: of an image, or of each query and key in attention.', pattern: lone('d'), letter: true },
  { id: 'EandD', tex: '\\mathcal{E},\\ \\mathcal{D}', name: 'encoder and decoder', meaning: 'The latent autoencoder: $z = \\mathcal{E}(x)$, $\\hat x = \\mathcal{D}(z)$.', pattern: /\\mathcal\{[ED]\}/ },
  { id: 'QKV', tex: 'Q,\\ K,\\ V', name: 'queries, keys, values', meaning: 'Attention’s inputs; in cross-attention $Q$ comes from the latent’s positions, $K$ and $V$ from the prompt’s token states.', code: 'multiHeadAttention', pattern: /\\operatorname\{Attention\}|(?<![\\A-Za-z])Q(?![A-Za-z])/ },
  { id: 'Wqkvo', tex: 'W_Q,\\ W_K,\\ W_V,\\ W_O', name: 'attention projections', meaning: 'Learned matrices: $W_Q$ turns the (normalised) features into queries, $W_K$ and $W_V$ turn token states into keys and values, $W_O$ maps the attention’s output back onto the channels.', code: 'q, k, v, out', pattern: /W_[QKVO]|W_\{[QKVO]\}/ },
  { id: 'dh', tex: 'd_h', name: 'head width', meaning: 'The length of each query and key in one attention head: the channels divided by the number of heads. Scores are divided by $\\sqrt{d_h}$ before the softmax.', pattern: /d_h(?![A-Za-z])|d_\{h\}/ },
  { id: 'Ffeat', tex: 'F', name: 'features', meaning: 'The U-Net’s activations at one layer, one row of $C$ channels for each position of the latent; a cross-attention layer adds its output to them.', code: 'h', pattern: lone('F'), letter: true },
  { id: 'Etok', tex: 'E', name: 'token states', meaning: 'The prompt’s states from the text encoder, one row per position of the context: what cross-attention’s keys and values are made from.', code: 'TextContext.states', pattern: lone('E'), letter: true },
  { id: 'Mpad', tex: 'M', name: 'pad mask', meaning: 'Added to the attention scores before the softmax: 0 for the prompt’s real tokens (its words and <eos>), $-\\infty$ for padding, whose weight therefore becomes exactly zero.', code: 'keyMask', pattern: lone('M'), letter: true },
  { id: 'Aattn', tex: 'A', name: 'attention weights', meaning: '$\\operatorname{softmax}(QK^{\\top}/\\sqrt{d_h} + M)$: one row per latent position, one column per token. Each row sums to 1; a column, laid out on the latent’s grid, maps where that token acts.', code: 'onAttention', pattern: lone('A'), letter: true },
  { id: 'mask', tex: 'm,\\ \\odot', name: 'mask, pixelwise product', meaning: 'The inpainting mask (1 in the hole, 0 elsewhere) and element-by-element multiplication.', pattern: /\\odot/ },
  { id: 'clipemb', tex: 'a_i,\\ b_j', name: 'image and caption embeddings', meaning: 'The unit-length outputs of CLIP’s image encoder for image $i$ and of its text encoder for caption $j$; their dot product $a_i^{\\top} b_j$ is the cosine similarity of the two.', code: 'encodeImage, textEmbedding', pattern: /(?<![\\A-Za-z])[ab]_[ijm](?![A-Za-z])/ },
  { id: 'tau', tex: '\\tau', name: 'tau (two uses)', meaning: 'CLIP’s temperature: similarities are divided by $\\tau$ before the softmax, and a small $\\tau$ makes the loss insist on the right match. It is learned, as $\\ln(1/\\tau)$, with $1/\\tau$ capped at 100. In the exact DPM-Solver step (lesson 7), the variable of integration.', code: 'logitScale', pattern: /\\tau/ },
  { id: 'lclip', tex: '\\mathcal{L}_{\\text{CLIP}}', name: 'contrastive loss (InfoNCE)', meaning: 'CLIP’s symmetric cross-entropy over a batch: each image has to pick out its own caption among all the batch’s captions, and each caption its own image. $\\mathcal{L}_{\\text{soft}}$ accepts every caption that is true of an image.', code: 'clipLoss', pattern: /\\mathcal\{L\}_\{\\text\{(?:CLIP|soft)\}\}/ },
  { id: 'positives', tex: '\\mathcal{C}_i,\\ \\mathcal{I}_i', name: 'positives', meaning: 'The captions of a batch that are true of image $i$, and the images of the batch that caption $i$ is true of: the right answers of the soft contrastive loss, each with an equal share.', code: 'targets', pattern: /\\mathcal\{[CI]\}_/ },
];

/** A lesson's maths: every $…$ and $$…$$ of its source outside fenced code blocks. */
export function mathOf(body: string): string {
  const noCode = body.replace(/^```[\s\S]*?^```/gm, '');
  const parts: string[] = [];
  for (const m of noCode.matchAll(/\$\$([\s\S]+?)\$\$|\$([^$\n]+?)\$/g)) parts.push(m[1] ?? m[2]);
  return parts.join('\n');
}

/** The maths with text-like groups (\\text{…}, \\operatorname{…}, \\mathrm{…}, …) removed, for single-letter symbols. */
export function lettersOf(math: string): string {
  return math.replace(/\\(?:text|operatorname|mathrm|mathbb|mathcal|mathbf|begin|end)\{[^{}]*\}/g, ' ');
}

/** Whether a lesson's maths uses a glossary symbol. */
export function usesSymbol(entry: GlossaryEntry, math: string): boolean {
  return entry.pattern.test(entry.letter ? lettersOf(math) : math);
}

/** Split prose with inline $…$ TeX into text and maths parts, in order (for typesetting a meaning). */
export function splitMath(text: string): { math: boolean; text: string }[] {
  const parts: { math: boolean; text: string }[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$([^$]+)\$/g)) {
    if (m.index > last) parts.push({ math: false, text: text.slice(last, m.index) });
    parts.push({ math: true, text: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ math: false, text: text.slice(last) });
  return parts;
}
