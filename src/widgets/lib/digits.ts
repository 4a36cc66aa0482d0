/** Client-side helpers for the digits embedded by src/lib/staticDigits.ts (no tfjs). */
import { MNIST_PIXELS, pixelToUnit } from '../../core/mnistFormat';

/** Decode the embedded base64 uint8 digits into [−1, 1] floats (pixelToUnit), one Float32Array per digit. */
export function decodeStaticDigits(base64: string, count: number): Float32Array[] {
  const binary = typeof atob === 'function' ? atob(base64) : Buffer.from(base64, 'base64').toString('binary');
  return Array.from({ length: count }, (_, d) => Float32Array.from({ length: MNIST_PIXELS }, (_, k) => pixelToUnit(binary.charCodeAt(d * MNIST_PIXELS + k))));
}
