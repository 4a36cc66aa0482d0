/**
 * Eval section `clip`: the shipped clip-mnist on the 1,000 held-out digits (scripts/lib/clipEval.ts) — zero-shot
 * digit accuracy from the prompts "the digit k" beside the supervised classifier's accuracy, zero-shot accuracy
 * per style attribute against the measured bins, caption → digit retrieval, and the similarity matrix of a batch.
 * Options: seed=2021 (the held-out captions), matrix=8 (digits in the similarity matrix).
 */
import { join } from 'node:path';
import { evaluateClassifier } from '../../src/core/classifier';
import { clipFromWeights, parseClipMetadata } from '../../src/core/clip';
import type { StyleBins } from '../../src/core/captions';
import { ATTRIBUTES } from '../../src/core/captions';
import { countClipParams } from '../../src/core/clip';
import { evaluateClip } from '../lib/clipEval';
import { loadWeightsFromDir } from '../lib/weights-file';
import { markdownTable, type EvalSection } from './common';

const pct = (v: unknown) => `${(100 * Number(v)).toFixed(1)} %`;

const section: EvalSection = {
  name: 'clip',
  title: 'clip-mnist: zero-shot digits and styles, caption → digit retrieval',
  async run(ctx) {
    const dir = join(ctx.root, 'models', 'clip-mnist');
    const { weights, metadata: raw } = loadWeightsFromDir(dir);
    const metadata = parseClipMetadata(raw, dir);
    const bins = metadata.styleBins as StyleBins | undefined;
    if (!bins) throw new Error(`${dir}: model.json has no styleBins`);
    const model = clipFromWeights(weights, metadata, dir);
    try {
      const ev = await evaluateClip(model, ctx.data.test, bins, { seed: Number(ctx.options.seed ?? 2021), matrixCount: Number(ctx.options.matrix ?? 8) });
      const clf = await evaluateClassifier(ctx.classifier, ctx.data.test);
      const counts = countClipParams(model.config);
      return {
        ...ev,
        styleBins: bins,
        classifierAccuracy: clf.accuracy,
        params: { text: counts.text, image: counts.image, total: counts.total },
        contextLength: model.config.contextLength,
        vocabSize: model.config.vocabSize,
      };
    } finally {
      model.dispose();
    }
  },
  format(r) {
    const ev = r as unknown as Awaited<ReturnType<typeof evaluateClip>> & { classifierAccuracy: number };
    return markdownTable(
      ['metric', 'value'],
      [
        ['zero-shot digit accuracy ("the digit k")', pct(ev.zeroShot?.accuracy)],
        ['supervised classifier-mnist, same digits', pct(ev.classifierAccuracy)],
        ...ATTRIBUTES.map((a) => [`zero-shot ${a} accuracy (chance 33 %)`, pct(ev.attributes?.[a]?.accuracy)] as [string, string]),
        ['caption → digit recall@1 / @5 / @10', `${pct(ev.retrieval?.recallAt1)} / ${pct(ev.retrieval?.recallAt5)} / ${pct(ev.retrieval?.recallAt10)}`],
        ['caption → its own digit @1 / @5 / @10', `${pct(ev.retrieval?.exactAt1)} / ${pct(ev.retrieval?.exactAt5)} / ${pct(ev.retrieval?.exactAt10)}`],
        ['learned inverse temperature', Number(ev.logitScale).toFixed(1)],
      ],
    );
  },
};

export default section;
