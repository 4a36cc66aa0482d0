/**
 * Eval section `classifier`: the ruler itself. Re-measures classifier-mnist's held-out accuracy and the
 * real-data floors of MNIST-FD (FD of n training digits vs the 1,000 held-out digits) at the sample sizes
 * the generative sections use, and copies the training card's headline numbers (models/classifier-mnist/config.json).
 * Options: floors=100,250,500,1000 (comma-separated sample sizes).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateClassifier } from '../../src/core/classifier';
import { markdownTable, realDigitFloor, type EvalSection } from './common';

const section: EvalSection = {
  name: 'classifier',
  title: 'classifier-mnist: held-out accuracy and the real-data floors of MNIST-FD',
  async run(ctx) {
    const test = await evaluateClassifier(ctx.classifier, ctx.data.test);
    const sizes = String(ctx.options.floors ?? '100,250,500,1000').split(',').map(Number).filter((n) => n >= 2);
    const fdFloor: Record<string, number> = {};
    for (const n of sizes) fdFloor[String(n)] = await realDigitFloor(ctx, n);
    const cfgFile = join(ctx.root, 'models', 'classifier-mnist', 'config.json');
    const card = existsSync(cfgFile) ? (JSON.parse(readFileSync(cfgFile, 'utf8')) as { evaluation?: Record<string, number> }).evaluation ?? {} : {};
    return {
      heldOutAccuracy: test.accuracy,
      heldOutLoss: test.loss,
      perClassAccuracy: Array.from(test.perClass),
      fdFloorTrainVsHeldOut: fdFloor,
      fdFloorNote: 'FD between n seeded-random training digits and the 1,000 held-out digits: what a perfect generator scores with n samples',
      card,
    };
  },
  format(r) {
    const floors = (r.fdFloorTrainVsHeldOut ?? {}) as Record<string, number>;
    return markdownTable(
      ['metric', 'value'],
      [
        ['held-out accuracy', `${(100 * Number(r.heldOutAccuracy)).toFixed(2)} %`],
        ...Object.entries(floors).map(([n, v]) => [`MNIST-FD floor, ${n} training digits vs 1,000 held-out`, v] as [string, number]),
      ],
    );
  },
};

export default section;
