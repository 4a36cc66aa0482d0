/**
 * Every interactive widget, in the gallery's order: its data-widget name, the heading the gallery shows and the id
 * its URL state is keyed by (`<id>.<key>`, as in the lessons). The gallery (src/pages/widgets.astro) and the embed
 * pages (src/pages/embed/) render from this one list, through GalleryWidget.astro.
 */
import type { WidgetName } from '../lib/widgetNames';

export interface GalleryEntry {
  name: WidgetName;
  heading: string;
  id: string;
}

export const GALLERY: readonly GalleryEntry[] = [
  { name: 'forward-scrubber', heading: 'Forward-noising scrubber', id: 'scrub' },
  { name: 'schedule-lab', heading: 'Schedule lab', id: 'sched' },
  { name: 'one-step-inspector', heading: 'One-step inspector', id: 'inspect' },
  { name: 'training-lab', heading: 'Training lab', id: 'lab' },
  { name: 'sampler-race', heading: 'Sampler race', id: 'race' },
  { name: 'guidance-lab', heading: 'Guidance lab', id: 'guide' },
  { name: 'autoencoder-lab', heading: 'Autoencoder lab', id: 'ae' },
  { name: 'img2img-lab', heading: 'Image-to-image and inpainting lab', id: 'img2img' },
  { name: 'clip-lab', heading: 'CLIP lab', id: 'clip' },
  { name: 'prompt-lab', heading: 'Prompt lab', id: 'prompt' },
  { name: 'controlnet-lab', heading: 'ControlNet lab', id: 'controlnet' },
  { name: 'flow-playground', heading: 'Flow playground', id: 'flow' },
];
