/** The sampler registry: switching DDPM ↔ DDIM is a change of key, never of code path. */
import type { Sampler } from '../types';
import { ddim } from './ddim';
import { ddpm } from './ddpm';

export const samplers = { ddpm, ddim } as const satisfies Record<string, Sampler>;

export type SamplerName = keyof typeof samplers;

export { ddpm, ddpmStep, ddpmSigma, ddpmTransitions, type DdpmVariance, type DdpmStepOptions } from './ddpm';
export {
  ddim,
  ddimStep,
  ddimSigma,
  ddimTimesteps,
  ddimTransitions,
  ddimAlphaBarPrev,
  DDIM_DEFAULT_STEPS,
  type DdimSpacing,
  type DdimStepOptions,
} from './ddim';
export { abortError, runSampler, type StepResult, type Transition, type StepFn } from './common';
