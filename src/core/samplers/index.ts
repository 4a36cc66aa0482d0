/** The sampler registry: switching DDPM ↔ DDIM ↔ DPM-Solver++ ↔ Euler ↔ Heun is a change of key, never of code path. */
import type { SamplerName } from '../samplerInfo';
import type { Sampler } from '../types';
import { ddim } from './ddim';
import { ddpm } from './ddpm';
import { dpmpp1, dpmpp2m, dpmpp3m } from './dpmSolver';
import { euler, heun } from './karras';

export const samplers = { ddpm, ddim, dpmpp1, dpmpp2m, dpmpp3m, euler, heun } as const satisfies Record<SamplerName, Sampler>;

export { SAMPLER_NAMES, SAMPLER_LABELS, nfeOf, stepsForNfe, type SamplerName } from '../samplerInfo';
export { ddpm, ddpmStep, ddpmSigma, ddpmTransitions, type DdpmVariance, type DdpmStepOptions } from './ddpm';
export {
  ddim,
  ddimStep,
  ddimSigma,
  ddimTimesteps,
  ddimTransitions,
  ddimAlphaBarPrev,
  DDIM_DEFAULT_STEPS,
  type ClipRule,
  type DdimSpacing,
  type DdimStepOptions,
} from './ddim';
export {
  dpmpp1,
  dpmpp2m,
  dpmpp3m,
  dpmpp2mSde,
  dpmSolverPP,
  dpmPlan,
  dpmCoefficients,
  dpmStepOrder,
  vpOf,
  DPM_DEFAULT_STEPS,
  LOWER_ORDER_FINAL_BELOW,
  type DpmOrder,
  type DpmPlanStep,
  type DpmCoefficients,
} from './dpmSolver';
export {
  euler,
  heun,
  karrasGrid,
  karrasSigmas,
  karrasTimesteps,
  sigmaOf,
  timestepOfSigma,
  KARRAS_DEFAULT_STEPS,
  KARRAS_RHO,
} from './karras';
export { SPACINGS, spacedTimesteps, dpmTimesteps, roundHalfEven, type Spacing } from './spacing';
export { abortError, runLoop, runSampler, callDenoiser, type StepResult, type Transition, type StepFn } from './common';
export {
  consistency,
  consistencySamplers,
  consistencyRunTimesteps,
  CONSISTENCY_SAMPLER_NAMES,
  CONSISTENCY_SAMPLER_LABELS,
  type ConsistencySamplerName,
  type ConsistencySampleOptions,
} from './consistency';
