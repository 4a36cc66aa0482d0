/**
 * Pure helpers behind <FlowTable> (build time only, no DOM, no fs): the `flow` section of models/eval.json (written by
 * scripts/eval/flow.ts) as one MNIST-FD table by network evaluations (a row per model and sampler, a column per NFE),
 * the path straightness of both models, and sentences computed from the numbers. A missing section gives null; a
 * malformed field is left out or shown as "—", never guessed.
 */
import { formatNumber, getPath } from './values';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export interface FlowCell {
  fd: number;
  text: string;
  /** The row ran on another timestep grid than the rest (diffusion at one step: trailing). */
  note?: string;
}

export interface FlowTableRow {
  key: string;
  model: string;
  label: string;
  cells: Map<number, FlowCell>;
}

export interface FlowView {
  nfes: number[];
  rows: FlowTableRow[];
  count: number | null;
  straightness: { flow: number | null; diffusion: number | null; diffusionRaw: number | null; count: number | null; steps: number | null } | null;
  floor: number | null;
}

const ORDER = ['flow-mnist euler', 'flow-mnist heun', 'unet-mnist ddim', 'unet-mnist dpmpp2m'];

/** The flow section as a table, or null without it. */
export function flowTable(evalJson: unknown): FlowView | null {
  const raw = getPath(evalJson, 'flow.rows');
  if (!raw || typeof raw !== 'object') return null;
  const byRow = new Map<string, FlowTableRow>();
  const nfes = new Set<number>();
  let count: number | null = null;
  for (const r of Object.values(raw as Record<string, Record<string, unknown>>)) {
    const fd = num(r?.fd);
    const nfe = num(r?.nfe);
    if (fd === null || nfe === null || typeof r.model !== 'string' || typeof r.sampler !== 'string') continue;
    const key = `${r.model} ${r.sampler}`;
    const row = byRow.get(key) ?? { key, model: r.model, label: String(r.label ?? r.sampler), cells: new Map<number, FlowCell>() };
    row.cells.set(nfe, { fd, text: formatNumber(fd, { digits: 1 }), note: r.spacing === 'trailing' ? 'trailing grid' : undefined });
    byRow.set(key, row);
    nfes.add(nfe);
    count ??= num(r.count);
  }
  const rows = [...byRow.values()].sort((a, b) => (ORDER.indexOf(a.key) + 1 || 99) - (ORDER.indexOf(b.key) + 1 || 99));
  const s = getPath(evalJson, 'flow.straightness') as Record<string, unknown> | undefined;
  return {
    nfes: [...nfes].sort((a, b) => a - b),
    rows,
    count,
    straightness: s ? { flow: num(s.flow), diffusion: num(s.diffusion), diffusionRaw: num(s.diffusionRaw), count: num(s.count), steps: num(s.steps) } : null,
    floor: num(getPath(evalJson, 'solvers.fdFloor')) ?? num(getPath(evalJson, 'classifier.fdFloorTrainVsHeldOut.1000')),
  };
}

/** Sentences from the numbers: flow Euler against DDIM at the same NFE, where one wins, and the straightness. */
export function flowSummary(view: FlowView): string[] {
  const get = (key: string, nfe: number) => view.rows.find((r) => r.key === key)?.cells.get(nfe) ?? null;
  const out: string[] = [];
  for (const nfe of [10, 5, 2]) {
    const f = get('flow-mnist euler', nfe);
    const d = get('unet-mnist ddim', nfe);
    if (f && d) {
      out.push(`At ${nfe} network evaluations the flow with Euler scores ${f.text} against DDIM's ${d.text} on the diffusion model (${f.fd <= d.fd ? 'better or equal' : 'worse'}).`);
    }
  }
  const st = view.straightness;
  if (st && st.flow !== null && st.diffusion !== null) {
    out.push(`Measured in the same coordinates, the flow's paths are ${formatNumber(100 * st.flow, { digits: 1 })}% longer than the straight segment from noise to digit, the diffusion model's ${formatNumber(100 * st.diffusion, { digits: 1 })}%.`);
  }
  return out;
}
