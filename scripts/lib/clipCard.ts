/**
 * clip-mnist's headline numbers: flattened from a ClipEvaluation (scripts/lib/clipEval.ts) into config.json's
 * summary, and rendered as the model card's evaluation table.
 */
import { ATTRIBUTES } from '../../src/core/captions';
import { attributePrompts, type ClipEvaluation } from './clipEval';
import type { EvalRow } from './model-card';

/** The numbers config.json keeps (flat, numeric). */
export function clipSummary(ev: ClipEvaluation): Record<string, number> {
  const s: Record<string, number> = {
    zeroShotDigitAccuracy: ev.zeroShot.accuracy,
    recallAt1: ev.retrieval.recallAt1,
    recallAt5: ev.retrieval.recallAt5,
    recallAt10: ev.retrieval.recallAt10,
    exactAt1: ev.retrieval.exactAt1,
    exactAt5: ev.retrieval.exactAt5,
    logitScale: ev.logitScale,
  };
  for (const a of ATTRIBUTES) s[`zeroShot_${a}`] = ev.attributes[a].accuracy;
  return s;
}

const pct = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : '—');

/** The card's evaluation table from a summary. */
export function clipCardRows(summary: Record<string, number>): EvalRow[] {
  return [
    { metric: 'zero-shot digit accuracy', value: pct(summary.zeroShotDigitAccuracy), note: '1,000 held-out digits, each given to the most similar of the prompts “the digit 0” … “the digit 9”' },
    ...ATTRIBUTES.map((a) => ({
      metric: `zero-shot ${a} accuracy`,
      value: pct(summary[`zeroShot_${a}`]),
      note: `prompts ${attributePrompts(a).map((p) => `“${p}”`).join(', ')} against the measured bin (chance 33 %)`,
    })),
    { metric: 'caption → digit recall@1', value: pct(summary.recallAt1), note: 'one random caption per held-out digit: the most similar of the 1,000 digits fits the caption' },
    { metric: 'caption → digit recall@5', value: pct(summary.recallAt5), note: 'one of the 5 most similar digits fits the caption' },
    { metric: 'caption → its own digit, top 5', value: pct(summary.exactAt5), note: 'the very digit the caption was written for is among the 5 most similar (many digits fit each caption)' },
    { metric: 'learned inverse temperature', value: typeof summary.logitScale === 'number' ? summary.logitScale.toFixed(1) : '—', note: 'exp(s); starts at 14.3 (1/0.07), capped at 100' },
  ];
}
