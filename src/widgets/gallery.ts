/**
 * Every interactive widget, in the gallery's order: its data-widget name, the heading the gallery shows, the id its
 * URL state is keyed by (`<id>.<key>`, as in the lessons) and its server-side wrapper. The gallery
 * (src/pages/widgets.astro) and the embed pages (src/pages/embed/) render from this one list.
 */
import type { WidgetName } from '../lib/widgetNames';
import ForwardScrubber from './ForwardScrubber.astro';
import ScheduleLab from './ScheduleLab.astro';
import OneStepInspector from './OneStepInspector.astro';
import TrainingLab from './TrainingLab.astro';
import SamplerRace from './SamplerRace.astro';
import GuidanceLab from './GuidanceLab.astro';
import AutoencoderLab from './AutoencoderLab.astro';
import Img2ImgLab from './Img2ImgLab.astro';
import ClipLab from './ClipLab.astro';
import PromptLab from './PromptLab.astro';
import ControlNetLab from './ControlNetLab.astro';
import FlowPlayground from './FlowPlayground.astro';

export interface GalleryWidget {
  name: WidgetName;
  heading: string;
  id: string;
  // An Astro component taking { id }.
  component: (props: { id: string }) => unknown;
}

export const GALLERY: readonly GalleryWidget[] = [
  { name: 'forward-scrubber', heading: 'Forward-noising scrubber', id: 'scrub', component: ForwardScrubber },
  { name: 'schedule-lab', heading: 'Schedule lab', id: 'sched', component: ScheduleLab },
  { name: 'one-step-inspector', heading: 'One-step inspector', id: 'inspect', component: OneStepInspector },
  { name: 'training-lab', heading: 'Training lab', id: 'lab', component: TrainingLab },
  { name: 'sampler-race', heading: 'Sampler race', id: 'race', component: SamplerRace },
  { name: 'guidance-lab', heading: 'Guidance lab', id: 'guide', component: GuidanceLab },
  { name: 'autoencoder-lab', heading: 'Autoencoder lab', id: 'ae', component: AutoencoderLab },
  { name: 'img2img-lab', heading: 'Image-to-image and inpainting lab', id: 'img2img', component: Img2ImgLab },
  { name: 'clip-lab', heading: 'CLIP lab', id: 'clip', component: ClipLab },
  { name: 'prompt-lab', heading: 'Prompt lab', id: 'prompt', component: PromptLab },
  { name: 'controlnet-lab', heading: 'ControlNet lab', id: 'controlnet', component: ControlNetLab },
  { name: 'flow-playground', heading: 'Flow playground', id: 'flow', component: FlowPlayground },
];
