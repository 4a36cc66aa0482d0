/**
 * The papers the lessons cite, as plain data for src/pages/references.astro. Lessons link to them as
 * `../../references/#<key>`; `citationsIn` finds those links so the page can list where each paper is used.
 */

export interface Reference {
  /** Anchor on the references page. */
  key: string;
  authors: string;
  year: number;
  title: string;
  /** Where it was published (conference, journal). */
  venue: string;
  /** arXiv identifier; the references page links it to arxiv.org/abs/<id>. */
  arxiv?: string;
  /** DOI, for papers not on arXiv; linked to doi.org/<doi>. */
  doi?: string;
  /** One line: what the course takes from it. */
  note: string;
}

export const REFERENCES: readonly Reference[] = [
  { key: 'sohldickstein2015', authors: 'Jascha Sohl-Dickstein, Eric A. Weiss, Niru Maheswaranathan, Surya Ganguli', year: 2015, title: 'Deep Unsupervised Learning using Nonequilibrium Thermodynamics', venue: 'ICML 2015', arxiv: '1503.03585', note: 'The first diffusion probabilistic model: data slowly diffused into noise, and a learned reverse process.' },
  { key: 'ho2020', authors: 'Jonathan Ho, Ajay Jain, Pieter Abbeel', year: 2020, title: 'Denoising Diffusion Probabilistic Models', venue: 'NeurIPS 2020', arxiv: '2006.11239', note: 'DDPM: the linear schedule, the ε-prediction loss, ancestral sampling, σ² = β or β̃.' },
  { key: 'nichol2021', authors: 'Alex Nichol, Prafulla Dhariwal', year: 2021, title: 'Improved Denoising Diffusion Probabilistic Models', venue: 'ICML 2021', arxiv: '2102.09672', note: 'The cosine schedule, learned reverse variances, importance-sampled timesteps.' },
  { key: 'song2021ddim', authors: 'Jiaming Song, Chenlin Meng, Stefano Ermon', year: 2021, title: 'Denoising Diffusion Implicit Models', venue: 'ICLR 2021', arxiv: '2010.02502', note: 'DDIM: non-Markovian processes with the same marginals, η, deterministic sampling with few steps.' },
  { key: 'song2021sde', authors: 'Yang Song, Jascha Sohl-Dickstein, Diederik P. Kingma, Abhishek Kumar, Stefano Ermon, Ben Poole', year: 2021, title: 'Score-Based Generative Modeling through Stochastic Differential Equations', venue: 'ICLR 2021', arxiv: '2011.13456', note: 'Diffusion as stochastic differential equations, the probability-flow ODE, the link to score matching.' },
  { key: 'song2019', authors: 'Yang Song, Stefano Ermon', year: 2019, title: 'Generative Modeling by Estimating Gradients of the Data Distribution', venue: 'NeurIPS 2019', arxiv: '1907.05600', note: 'Score-based generation with denoising score matching at many noise levels.' },
  { key: 'kingma2021', authors: 'Diederik P. Kingma, Tim Salimans, Ben Poole, Jonathan Ho', year: 2021, title: 'Variational Diffusion Models', venue: 'NeurIPS 2021', arxiv: '2107.00630', note: 'Schedules described by their signal-to-noise ratio; the continuous-time bound depends only on its end points.' },
  { key: 'hoogeboom2023', authors: 'Emiel Hoogeboom, Jonathan Heek, Tim Salimans', year: 2023, title: 'simple diffusion: End-to-end diffusion for high resolution images', venue: 'ICML 2023', arxiv: '2301.11093', note: 'Shifting the noise schedule towards more noise for larger images.' },
  { key: 'lin2024', authors: 'Shanchuan Lin, Bingchen Liu, Jiashi Li, Xiao Yang', year: 2024, title: 'Common Diffusion Noise Schedules and Sample Steps are Flawed', venue: 'WACV 2024', arxiv: '2305.08891', note: 'Sampling should start at the last timestep ("trailing" spacing); zero terminal SNR.' },
  { key: 'salimans2022', authors: 'Tim Salimans, Jonathan Ho', year: 2022, title: 'Progressive Distillation for Fast Sampling of Diffusion Models', venue: 'ICLR 2022', arxiv: '2202.00512', note: 'v-prediction, and halving the number of sampling steps by repeated distillation.' },
  { key: 'choi2022', authors: 'Jooyoung Choi, Jungbeom Lee, Chaehun Shin, Sungwon Kim, Hyunwoo Kim, Sungroh Yoon', year: 2022, title: 'Perception Prioritized Training of Diffusion Models', venue: 'CVPR 2022', arxiv: '2204.00227', note: 'P2 weighting: less weight on the nearly clean timesteps.' },
  { key: 'hang2023', authors: 'Tiankai Hang, Shuyang Gu, Chen Li, Jianmin Bao, Dong Chen, Han Hu, Xin Geng, Baining Guo', year: 2023, title: 'Efficient Diffusion Training via Min-SNR Weighting Strategy', venue: 'ICCV 2023', arxiv: '2303.09556', note: 'Min-SNR-γ: timestep weights capped by the signal-to-noise ratio.' },
  { key: 'ronneberger2015', authors: 'Olaf Ronneberger, Philipp Fischer, Thomas Brox', year: 2015, title: 'U-Net: Convolutional Networks for Biomedical Image Segmentation', venue: 'MICCAI 2015', arxiv: '1505.04597', note: 'The U-Net: an encoder, a decoder and skip connections between them.' },
  { key: 'vaswani2017', authors: 'Ashish Vaswani, Noam Shazeer, Niki Parmar, Jakob Uszkoreit, Llion Jones, Aidan N. Gomez, Łukasz Kaiser, Illia Polosukhin', year: 2017, title: 'Attention Is All You Need', venue: 'NeurIPS 2017', arxiv: '1706.03762', note: 'Sinusoidal position embeddings and attention, reused for timesteps and image features.' },
  { key: 'wu2018', authors: 'Yuxin Wu, Kaiming He', year: 2018, title: 'Group Normalization', venue: 'ECCV 2018', arxiv: '1803.08494', note: 'Normalisation over groups of channels of each example, independent of the batch.' },
  { key: 'goodfellow2014', authors: 'Ian Goodfellow, Jean Pouget-Abadie, Mehdi Mirza, Bing Xu, David Warde-Farley, Sherjil Ozair, Aaron Courville, Yoshua Bengio', year: 2014, title: 'Generative Adversarial Nets', venue: 'NeurIPS 2014', arxiv: '1406.2661', note: 'GANs: a generator and a discriminator trained against each other.' },
  { key: 'kingma2014', authors: 'Diederik P. Kingma, Max Welling', year: 2014, title: 'Auto-Encoding Variational Bayes', venue: 'ICLR 2014', arxiv: '1312.6114', note: 'The variational autoencoder and the evidence lower bound.' },
  { key: 'dhariwal2021', authors: 'Prafulla Dhariwal, Alex Nichol', year: 2021, title: 'Diffusion Models Beat GANs on Image Synthesis', venue: 'NeurIPS 2021', arxiv: '2105.05233', note: 'An improved U-Net and classifier guidance; diffusion overtakes GANs on ImageNet.' },
  { key: 'ho2022', authors: 'Jonathan Ho, Tim Salimans', year: 2022, title: 'Classifier-Free Diffusion Guidance', venue: 'arXiv preprint, 2022 (first presented at the NeurIPS 2021 Workshop on Deep Generative Models and Downstream Applications)', arxiv: '2207.12598', note: 'Guidance without a classifier: ε̃ = (1 + w) ε(x, c) − w ε(x, ∅); the FID/IS trade-off.' },
  { key: 'saharia2022', authors: 'Chitwan Saharia, William Chan, Saurabh Saxena, Lala Li, Jay Whang, Emily Denton, et al.', year: 2022, title: 'Photorealistic Text-to-Image Diffusion Models with Deep Language Understanding', venue: 'NeurIPS 2022', arxiv: '2205.11487', note: 'Imagen; dynamic thresholding for strong guidance.' },
  { key: 'lu2022', authors: 'Cheng Lu, Yuhao Zhou, Fan Bao, Jianfei Chen, Chongxuan Li, Jun Zhu', year: 2022, title: 'DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic Model Sampling in Around 10 Steps', venue: 'NeurIPS 2022', arxiv: '2206.00927', note: 'A high-order solver for the diffusion ODE that integrates its linear part exactly: good samples in 10 to 20 steps.' },
  { key: 'lu2025', authors: 'Cheng Lu, Yuhao Zhou, Fan Bao, Jianfei Chen, Chongxuan Li, Jun Zhu', year: 2025, title: 'DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models', venue: 'Machine Intelligence Research 22, 730–751 (2025)', arxiv: '2211.01095', note: 'DPM-Solver in the data-prediction form, multistep, stable under strong guidance; first posted on arXiv in 2022.' },
  { key: 'lu2022ode', authors: 'Cheng Lu, Kaiwen Zheng, Fan Bao, Jianfei Chen, Chongxuan Li, Jun Zhu', year: 2022, title: 'Maximum Likelihood Training for Score-Based Diffusion ODEs by High-Order Denoising Score Matching', venue: 'ICML 2022', arxiv: '2206.08265', note: 'Matching the score is not enough for the probability-flow ODE: its distribution also depends on the errors of the score’s derivatives.' },
  { key: 'karras2022', authors: 'Tero Karras, Miika Aittala, Timo Aila, Samuli Laine', year: 2022, title: 'Elucidating the Design Space of Diffusion-Based Generative Models', venue: 'NeurIPS 2022', arxiv: '2206.00364', note: 'EDM: Heun sampling, step-size design, preconditioning.' },
  { key: 'rombach2022', authors: 'Robin Rombach, Andreas Blattmann, Dominik Lorenz, Patrick Esser, Björn Ommer', year: 2022, title: 'High-Resolution Image Synthesis with Latent Diffusion Models', venue: 'CVPR 2022', arxiv: '2112.10752', note: 'Latent diffusion: an autoencoder, diffusion on its latents, cross-attention conditioning; the basis of Stable Diffusion.' },
  { key: 'radford2021', authors: 'Alec Radford, Jong Wook Kim, Chris Hallacy, Aditya Ramesh, Gabriel Goh, Sandhini Agarwal, et al.', year: 2021, title: 'Learning Transferable Visual Models From Natural Language Supervision', venue: 'ICML 2021', arxiv: '2103.00020', note: 'CLIP: image and text encoders trained contrastively on image–caption pairs.' },
  { key: 'oord2018', authors: 'Aaron van den Oord, Yazhe Li, Oriol Vinyals', year: 2018, title: 'Representation Learning with Contrastive Predictive Coding', venue: 'arXiv preprint, 2018', arxiv: '1807.03748', note: 'InfoNCE: pick the right partner among negatives with a softmax over similarities; CLIP applies it in both directions.' },
  { key: 'zhang1984', authors: 'T. Y. Zhang, C. Y. Suen', year: 1984, title: 'A Fast Parallel Algorithm for Thinning Digital Patterns', venue: 'Communications of the ACM 27(3), 236–239 (1984)', doi: '10.1145/357994.358023', note: 'Zhang–Suen thinning: the one-pixel skeleton our captions measure stroke thickness with.' },
  { key: 'hu1962', authors: 'Ming-Kuei Hu', year: 1962, title: 'Visual Pattern Recognition by Moment Invariants', venue: 'IRE Transactions on Information Theory 8(2), 179–187 (1962)', doi: '10.1109/TIT.1962.1057692', note: 'Image moments: the second moments our captions read a digit’s slant from.' },
  { key: 'podell2024', authors: 'Dustin Podell, Zion English, Kyle Lacey, Andreas Blattmann, Tim Dockhorn, Jonas Müller, Joe Penna, Robin Rombach', year: 2024, title: 'SDXL: Improving Latent Diffusion Models for High-Resolution Image Synthesis', venue: 'ICLR 2024', arxiv: '2307.01952', note: 'Two text encoders side by side, and the pooled text embedding added to the timestep embedding.' },
  { key: 'meng2022', authors: 'Chenlin Meng, Yutong He, Yang Song, Jiaming Song, Jiajun Wu, Jun-Yan Zhu, Stefano Ermon', year: 2022, title: 'SDEdit: Guided Image Synthesis and Editing with Stochastic Differential Equations', venue: 'ICLR 2022', arxiv: '2108.01073', note: 'Image-to-image: noise an input part of the way, then denoise.' },
  { key: 'lugmayr2022', authors: 'Andreas Lugmayr, Martin Danelljan, Andres Romero, Fisher Yu, Radu Timofte, Luc Van Gool', year: 2022, title: 'RePaint: Inpainting using Denoising Diffusion Probabilistic Models', venue: 'CVPR 2022', arxiv: '2201.09865', note: 'Inpainting with an unconditional model by replacing the known region at every step.' },
  { key: 'saharia2023', authors: 'Chitwan Saharia, Jonathan Ho, William Chan, Tim Salimans, David J. Fleet, Mohammad Norouzi', year: 2023, title: 'Image Super-Resolution via Iterative Refinement', venue: 'IEEE Transactions on Pattern Analysis and Machine Intelligence 45(4), 4713–4726 (2023)', arxiv: '2104.07636', note: 'SR3: super-resolution by conditioning on the upscaled low-resolution image.' },
  { key: 'zhang2023', authors: 'Lvmin Zhang, Anyi Rao, Maneesh Agrawala', year: 2023, title: 'Adding Conditional Control to Text-to-Image Diffusion Models', venue: 'ICCV 2023', arxiv: '2302.05543', note: 'ControlNet: a trainable copy of the encoder joined by zero convolutions to a frozen model.' },
  { key: 'song2023', authors: 'Yang Song, Prafulla Dhariwal, Mark Chen, Ilya Sutskever', year: 2023, title: 'Consistency Models', venue: 'ICML 2023', arxiv: '2303.01469', note: 'Mapping any point of an ODE path to its end: one-step generation.' },
  { key: 'song2024', authors: 'Yang Song, Prafulla Dhariwal', year: 2024, title: 'Improved Techniques for Training Consistency Models', venue: 'ICLR 2024', arxiv: '2310.14189', note: 'Consistency training without a teacher made to work well: the pseudo-Huber distance, a grid that grows finer during training, and the student itself, not an EMA of it, on the other side of the comparison.' },
  { key: 'lipman2023', authors: 'Yaron Lipman, Ricky T. Q. Chen, Heli Ben-Hamu, Maximilian Nickel, Matt Le', year: 2023, title: 'Flow Matching for Generative Modeling', venue: 'ICLR 2023', arxiv: '2210.02747', note: 'Regressing a network onto the velocity of chosen paths from noise to data.' },
  { key: 'liu2023', authors: 'Xingchao Liu, Chengyue Gong, Qiang Liu', year: 2023, title: 'Flow Straight and Fast: Learning to Generate and Transfer Data with Rectified Flow', venue: 'ICLR 2023', arxiv: '2209.03003', note: 'Rectified flow: straight paths, and reflow to straighten the learned flow.' },
  { key: 'esser2024', authors: 'Patrick Esser, Sumith Kulal, Andreas Blattmann, Rahim Entezari, Jonas Müller, Harry Saini, et al.', year: 2024, title: 'Scaling Rectified Flow Transformers for High-Resolution Image Synthesis', venue: 'ICML 2024', arxiv: '2403.03206', note: 'Stable Diffusion 3: rectified flow, a transformer denoiser, 16-channel latents.' },
  { key: 'peebles2023', authors: 'William Peebles, Saining Xie', year: 2023, title: 'Scalable Diffusion Models with Transformers', venue: 'ICCV 2023', arxiv: '2212.09748', note: 'DiT: a transformer instead of a U-Net as the denoiser.' },
  { key: 'kong2021', authors: 'Zhifeng Kong, Wei Ping, Jiaji Huang, Kexin Zhao, Bryan Catanzaro', year: 2021, title: 'DiffWave: A Versatile Diffusion Model for Audio Synthesis', venue: 'ICLR 2021', arxiv: '2009.09761', note: 'Diffusion on raw audio waveforms.' },
  { key: 'liu2023audio', authors: 'Haohe Liu, Zehua Chen, Yi Yuan, Xinhao Mei, Xubo Liu, Danilo Mandic, Wenwu Wang, Mark D. Plumbley', year: 2023, title: 'AudioLDM: Text-to-Audio Generation with Latent Diffusion Models', venue: 'ICML 2023', arxiv: '2301.12503', note: 'Latent diffusion for sound, conditioned on text.' },
  { key: 'ho2022video', authors: 'Jonathan Ho, Tim Salimans, Alexey Gritsenko, William Chan, Mohammad Norouzi, David J. Fleet', year: 2022, title: 'Video Diffusion Models', venue: 'NeurIPS 2022', arxiv: '2204.03458', note: 'Diffusion for video with attention across frames.' },
  { key: 'poole2023', authors: 'Ben Poole, Ajay Jain, Jonathan T. Barron, Ben Mildenhall', year: 2023, title: 'DreamFusion: Text-to-3D using 2D Diffusion', venue: 'ICLR 2023', arxiv: '2209.14988', note: 'Score distillation: a 2D diffusion model as the critic of a 3D scene.' },
  { key: 'watson2023', authors: 'Joseph L. Watson, David Juergens, Nathaniel R. Bennett, Brian L. Trippe, Jason Yim, et al.', year: 2023, title: 'De novo design of protein structure and function with RFdiffusion', venue: 'Nature 620, 1089–1100 (2023)', doi: '10.1038/s41586-023-06415-8', note: 'RFdiffusion: diffusion over protein backbones for protein design.' },
];

/** Years an arXiv preprint may precede its publication by, in referenceProblems. */
export const MAX_YEARS_ARXIV_TO_VENUE = 3;

/**
 * What is inconsistent about a reference (empty when nothing): its key must end in its year (the anchor the lessons
 * link to reads as a citation), its venue must name that year, and an arXiv identifier (YYMM.NNNNN) must be well
 * formed and dated no later than the year, and at most MAX_YEARS_ARXIV_TO_VENUE years before it.
 */
export function referenceProblems(r: Reference): string[] {
  const out: string[] = [];
  const keyYear = /^[a-z]+(\d{4})[a-z]*$/.exec(r.key);
  if (!keyYear) out.push(`key "${r.key}" is not <name><year>[suffix]`);
  else if (Number(keyYear[1]) !== r.year) out.push(`key "${r.key}" names ${keyYear[1]}, the year is ${r.year}`);
  if (!r.venue.includes(String(r.year))) out.push(`venue "${r.venue}" does not name the year ${r.year}`);
  if (r.arxiv !== undefined) {
    const m = /^(\d{2})(\d{2})\.\d{4,5}$/.exec(r.arxiv);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) out.push(`arXiv id "${r.arxiv}" is not YYMM.NNNNN`);
    else {
      const posted = 2000 + Number(m[1]);
      if (r.year < posted) out.push(`year ${r.year} is before the arXiv posting (${r.arxiv}: ${posted})`);
      else if (r.year > posted + MAX_YEARS_ARXIV_TO_VENUE) out.push(`year ${r.year} is more than ${MAX_YEARS_ARXIV_TO_VENUE} years after the arXiv posting (${r.arxiv}: ${posted})`);
    }
  }
  return out;
}

/** The reference keys a lesson's source cites, as links to `references/#key`, in order of first appearance. */
export function citationsIn(body: string): string[] {
  const keys: string[] = [];
  for (const m of body.matchAll(/references\/#([A-Za-z0-9_-]+)/g)) if (!keys.includes(m[1])) keys.push(m[1]);
  return keys;
}
