/** Command-line helpers shared by scripts/train.ts and scripts/eval.ts. */

/** `--set key=value` (repeatable) → options: `true`/`false` become booleans, numeric strings numbers, the rest strings. */
export function parseSet(values: string[] | undefined): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const kv of values ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 1) throw new Error(`--set expects key=value, got "${kv}"`);
    const raw = kv.slice(eq + 1);
    out[kv.slice(0, eq)] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}
