/**
 * Exponential moving average of a series, m_i = d·m_{i−1} + (1 − d)·x_i from m_{−1} = 0, shown with the start-up
 * bias removed: m_i/(1 − d^{i+1}) (Adam's correction; TensorBoard's smoothing). The loss curves smooth with it.
 */
export function emaSeries(values: readonly number[], decay: number): number[] {
  if (!(decay >= 0 && decay < 1)) throw new RangeError(`EMA decay must lie in [0, 1), got ${decay}`);
  const out = new Array<number>(values.length);
  let m = 0;
  let dn = 1;
  for (let i = 0; i < values.length; i++) {
    m = decay * m + (1 - decay) * values[i];
    dn *= decay;
    out[i] = m / (1 - dn);
  }
  return out;
}
