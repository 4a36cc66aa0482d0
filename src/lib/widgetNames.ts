/** The site's widgets by their data-widget name, as a lesson's frontmatter lists them, with the name a reader sees. */
export const WIDGET_NAMES = {
  'forward-scrubber': 'the forward-noising scrubber',
  'schedule-lab': 'the schedule lab',
  'one-step-inspector': 'the one-step inspector',
  'training-lab': 'the training lab',
  'sampler-race': 'the sampler zoo',
  'guidance-lab': 'the guidance lab',
  'autoencoder-lab': 'the autoencoder lab',
  'img2img-lab': 'the image-to-image and inpainting lab',
  'clip-lab': 'the CLIP lab',
  'prompt-lab': 'the prompt lab',
  'controlnet-lab': 'the ControlNet lab',
  'flow-playground': 'the flow playground',
} as const satisfies Record<string, string>;

export type WidgetName = keyof typeof WIDGET_NAMES;
export const isWidgetName = (name: string): name is WidgetName => Object.hasOwn(WIDGET_NAMES, name);
