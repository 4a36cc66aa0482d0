/**
 * The 2-D flow playground's target distributions, tfjs-free (the worker trains on them; the widget and its
 * server-rendered HTML draw them). Every sampler is seeded: `sampleTarget(preset, n, seed)` gives the same points
 * for the same seed on every machine. Points are interleaved [x₀, y₀, x₁, y₁, …] in the playground's coordinates,
 * where the noise is N(0, I) and every preset lies within about ±2.2 of the origin.
 *
 * | preset        | what it is                                                                                     |
 * |---------------|------------------------------------------------------------------------------------------------|
 * | `moons`       | scikit-learn's two interleaved half circles (outer (cos θ, sin θ), inner (1 − cos θ, ½ − sin θ)), centred, × 1.4, σ = 0.06 |
 * | `gaussians`   | eight Gaussians (σ = 0.15) at equal angles on the circle of radius 2                           |
 * | `checkerboard`| uniform on the dark squares of a 4 × 4 board over [−2, 2]²                                     |
 * | `spiral`      | one arm r = 0.25 + 1.9·u, θ = 3π·u (u ~ U(0, 1)), σ = 0.06                                     |
 * | `custom`      | the reader's own points: pick one at random and add N(0, JITTER² I)                            |
 */
import { fork, makeRng, type Rng } from './rng';

export const PRESETS = ['moons', 'gaussians', 'checkerboard', 'spiral', 'custom'] as const;
export type Preset = (typeof PRESETS)[number];

export const PRESET_LABELS: Record<Preset, string> = {
  moons: 'Two moons',
  gaussians: '8 Gaussians',
  checkerboard: 'Checkerboard',
  spiral: 'Spiral',
  custom: 'Your own points',
};

/** The flow's integrators (samplers/flow.ts FLOW_SAMPLER_NAMES, repeated here without tfjs for the catalogue; a test keeps them equal). */
export const FLOW_SAMPLERS = ['euler', 'heun'] as const;

/** Half the side of the square the playground draws: the data and most of the noise (|x| < 3.2 holds 99.8 % of N(0, 1)). */
export const VIEW = 3.2;
/** The standard deviation of the Gaussian added to a drawn point (custom preset). */
export const JITTER = 0.08;
/** Most points a reader may draw. */
export const MAX_CUSTOM_POINTS = 200;
/** How many points stand in for a drawing that has none (a small cross at the origin's right). */
const FALLBACK: readonly number[] = [1, 0, 1.4, 0, 1.2, 0.2, 1.2, -0.2];

/** A Gaussian pair from the stream (two normals). */
function jitter(rng: Rng, sigma: number): [number, number] {
  return [sigma * rng.normal(), sigma * rng.normal()];
}

/** n points of the preset, drawn from `rng` (advances it). `custom` needs the drawn points (interleaved x, y). */
export function drawTarget(preset: Preset, n: number, rng: Rng, custom?: ArrayLike<number>): Float32Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    let x = 0;
    let y = 0;
    switch (preset) {
      case 'moons': {
        const theta = Math.PI * rng.uniform();
        const inner = rng.uniform() < 0.5;
        x = inner ? 1 - Math.cos(theta) : Math.cos(theta);
        y = inner ? 0.5 - Math.sin(theta) : Math.sin(theta);
        const [dx, dy] = jitter(rng, 0.06 / 1.4);
        // centre (0.5, 0.25), scale 1.4
        x = (x - 0.5 + dx) * 1.4;
        y = (y - 0.25 + dy) * 1.4;
        break;
      }
      case 'gaussians': {
        const k = rng.uniformInt(8);
        const [dx, dy] = jitter(rng, 0.15);
        x = 2 * Math.cos((k * Math.PI) / 4) + dx;
        y = 2 * Math.sin((k * Math.PI) / 4) + dy;
        break;
      }
      case 'checkerboard': {
        // a dark square (row + column even) of the 4 × 4 board, then uniform inside it
        const cell = rng.uniformInt(8);
        const row = Math.floor(cell / 2);
        const col = 2 * (cell % 2) + (row % 2);
        x = -2 + col + rng.uniform();
        y = -2 + row + rng.uniform();
        break;
      }
      case 'spiral': {
        const u = rng.uniform();
        const r = 0.25 + 1.9 * u;
        const theta = 3 * Math.PI * u;
        const [dx, dy] = jitter(rng, 0.06);
        x = r * Math.cos(theta) + dx;
        y = r * Math.sin(theta) + dy;
        break;
      }
      case 'custom': {
        const pts = custom && custom.length >= 2 ? custom : FALLBACK;
        const k = rng.uniformInt(Math.floor(pts.length / 2));
        const [dx, dy] = jitter(rng, JITTER);
        x = pts[2 * k] + dx;
        y = pts[2 * k + 1] + dy;
        break;
      }
      default:
        throw new RangeError(`unknown preset ${String(preset)}`);
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/** n points of the preset from a fresh stream of `seed` (the same seed, the same points). */
export function sampleTarget(preset: Preset, n: number, seed: number, custom?: ArrayLike<number>): Float32Array {
  return drawTarget(preset, n, makeRng(fork(seed, `target:${preset}`)), custom);
}

/** The drawn points a custom preset samples from, or the fallback when there are none. */
export function customOrFallback(custom: ArrayLike<number> | undefined): Float32Array {
  return Float32Array.from(custom && custom.length >= 2 ? custom : FALLBACK);
}
