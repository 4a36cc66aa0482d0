import { describe, expect, it } from 'vitest';
import { consistencySummary, consistencyTable, DEFAULT_CONFIDENT_AT, partsText, type ConsistencyView } from '../../src/components/lesson/consistencyTables';

type Json = Record<string, any>;

/** One row as `npm run eval -- consistency` writes it, with made-up numbers. */
const row = (model: string, sampler: string, label: string, nfe: number, fd: unknown, confidentShare: unknown, extra: Json = {}): Json => ({
  model,
  sampler,
  label,
  nfe,
  steps: nfe,
  count: 1000,
  fd,
  meanConfidence: 0.9,
  confidentShare,
  conditionAccuracy: 0.95,
  seconds: 3,
  source: 'computed',
  ...extra,
});
const cm = (nfe: number, fd: unknown, share: unknown) => row('consistency-mnist', 'consistency', 'Consistency model', nfe, fd, share);
const ddim = (nfe: number, fd: unknown, share: unknown, extra: Json = {}) => row('unet-mnist', 'ddim', 'DDIM', nfe, fd, share, extra);
const dpm = (nfe: number, fd: unknown, share: unknown, extra: Json = {}) => row('unet-mnist', 'dpmpp2m', 'DPM-Solver++ 2M', nfe, fd, share, extra);

/** A models/eval.json with a `consistency` section in the documented shape; keys deliberately out of order. */
function fixture(): Json {
  return {
    solvers: { fdFloor: 3.9 },
    consistency: {
      model: 'models/consistency-mnist',
      teacher: 'models/unet-mnist',
      seed: 1,
      batchSize: 50,
      count: 1000,
      spacing: 'linspace',
      fdFloor: 4.17,
      grid: [1, 1000],
      rows: {
        'teacher-ddpm-nfe1000': row('unet-mnist', 'ddpm', 'DDPM', 1000, 5.5, 0.93),
        'consistency-nfe2': cm(2, 9.1, 0.9),
        'teacher-ddim-nfe4': ddim(4, 60.25, 0.7),
        'consistency-nfe1': cm(1, 12.3, 0.88),
        'teacher-dpmpp2m-nfe1': dpm(1, 250, 0.2, { spacing: 'trailing' }),
        'teacher-ddim-nfe1': ddim(1, 250, 0.2, { spacing: 'trailing' }),
        'teacher-dpmpp2m-nfe2': dpm(2, 110, 0.4),
        'consistency-nfe4': cm(4, 8.4, 0.91),
        'teacher-ddim-nfe2': ddim(2, 120, 0.35),
        'teacher-dpmpp2m-nfe4': dpm(4, 40, 0.75),
        'teacher-ddim-nfe10': ddim(10, 13.79, 0.85),
      },
      targets: { twoStepFd: { value: 9.1, reference: 13.79, met: true }, oneStepConfident: { share: 0.88, threshold: 0.9, atLeast: 0.8, met: true } },
    },
  };
}

const view = (json: unknown): ConsistencyView => {
  const v = consistencyTable(json);
  expect(v).not.toBeNull();
  return v!;
};
const fdRow = (v: ConsistencyView, group: string) => v.nfes.map((n) => v.lines.find((l) => l.group === group)?.cells.get(n)?.fd?.text ?? '—');
const shareRow = (v: ConsistencyView, group: string) => v.nfes.map((n) => v.lines.find((l) => l.group === group)?.cells.get(n)?.confident?.text ?? '—');

describe('consistencyTable', () => {
  it('is null without a consistency section, or with rows that are not an object of rows', () => {
    expect(consistencyTable(undefined)).toBeNull();
    expect(consistencyTable({})).toBeNull();
    expect(consistencyTable({ consistency: {} })).toBeNull();
    expect(consistencyTable({ consistency: { rows: [] } })).toBeNull();
    expect(consistencyTable({ consistency: { rows: 'none' } })).toBeNull();
    expect(consistencyTable({ consistency: { rows: { junk: 1, 'consistency-nfe1': null } } })).toBeNull();
  });

  it('has a column per NFE of the consistency model and its line first, then DDIM and DPM-Solver++ 2M', () => {
    const v = view(fixture());
    expect(v.nfes).toEqual([1, 2, 4]);
    expect(v.lines.map((l) => [l.group, l.label, l.teacher])).toEqual([
      ['consistency', 'Consistency model', false],
      ['teacher-ddim', 'DDIM', true],
      ['teacher-dpmpp2m', 'DPM-Solver++ 2M', true],
    ]);
    expect(fdRow(v, 'consistency')).toEqual(['12.3', '9.1', '8.4']);
    expect(fdRow(v, 'teacher-ddim')).toEqual(['250.0', '120.0', '60.3']);
    expect(shareRow(v, 'consistency')).toEqual(['88.0%', '90.0%', '91.0%']);
    expect(v.count).toBe(1000);
    expect(v.floor).toBe(4.17);
    expect(v.confidentAt).toBe(0.9);
    expect(v.confidentAtText).toBe('0.9');
  });

  it('puts the teacher’s rows at other NFEs into reference lines, ascending', () => {
    const v = view(fixture());
    expect(v.references.map((r) => [r.group, r.label, r.nfe, r.fd?.text, r.confident?.text])).toEqual([
      ['teacher-ddim', 'DDIM', 10, '13.8', '85.0%'],
      ['teacher-ddpm', 'DDPM', 1000, '5.5', '93.0%'],
    ]);
  });

  it('marks the rows that ran on the trailing grid', () => {
    const v = view(fixture());
    expect(v.lines.find((l) => l.group === 'teacher-ddim')!.cells.get(1)!.trailing).toBe(true);
    expect(v.lines.find((l) => l.group === 'teacher-ddim')!.cells.get(2)!.trailing).toBe(false);
  });

  it('shows a malformed or missing field as missing, never a guess', () => {
    const json = fixture();
    const rows = json.consistency.rows;
    rows['consistency-nfe2'] = cm(2, null, 1.4); // FD missing, a share above 1
    rows['consistency-nfe4'] = cm(4, 'eight', Number.NaN);
    delete rows['teacher-ddim-nfe4'].fd;
    rows['teacher-dpmpp2m-nfe4'].fd = -3;
    rows['teacher-dpmpp2m-nfe4'].confidentShare = -0.1;
    rows['teacher-dpmpp2m-nfe2'].label = 42; // not a string: the sampler's own name
    rows['teacher-dpmpp2m-nfe2'].nfe = 'two'; // the key still says 2
    const v = view(json);
    expect(fdRow(v, 'consistency')).toEqual(['12.3', '—', '—']);
    expect(shareRow(v, 'consistency')).toEqual(['88.0%', '—', '—']);
    expect(fdRow(v, 'teacher-ddim')).toEqual(['250.0', '120.0', '—']);
    expect(fdRow(v, 'teacher-dpmpp2m')).toEqual(['250.0', '110.0', '—']);
    expect(shareRow(v, 'teacher-dpmpp2m')).toEqual(['20.0%', '40.0%', '—']);
    expect(v.lines.find((l) => l.group === 'teacher-dpmpp2m')!.cells.get(2)).toBeDefined();
  });

  it('skips rows whose key names no NFE and falls back to the default threshold and the solvers’ floor', () => {
    const json = fixture();
    json.consistency.rows.odd = cm(3, 1, 0.5);
    json.consistency.rows['consistency-nfe0'] = cm(0, 1, 0.5);
    delete json.consistency.fdFloor;
    json.consistency.targets.oneStepConfident.threshold = 'high';
    json.consistency.count = undefined;
    const v = view(json);
    expect(v.nfes).toEqual([1, 2, 4]);
    expect(v.floor).toBe(3.9);
    expect(v.confidentAt).toBe(DEFAULT_CONFIDENT_AT);
    delete json.solvers;
    expect(view(json).floor).toBeNull();
  });

  it('uses the NFEs two lines share as columns when the consistency model’s rows are missing', () => {
    const json = fixture();
    for (const k of Object.keys(json.consistency.rows)) if (k.startsWith('consistency-')) delete json.consistency.rows[k];
    const v = view(json);
    expect(v.nfes).toEqual([1, 2, 4]);
    expect(v.lines.map((l) => l.group)).toEqual(['teacher-ddim', 'teacher-dpmpp2m']);
    expect(v.references.map((r) => r.nfe)).toEqual([10, 1000]);
    expect(consistencySummary(v)).toEqual([]);
  });
});

describe('consistencySummary', () => {
  it('reads the comparisons off the numbers', () => {
    const text = consistencySummary(view(fixture())).map(partsText);
    expect(text).toEqual([
      "With one network evaluation the consistency model's digits score an MNIST-FD of 12.3, lower than the teacher's DDIM (250.0) and DPM-Solver++ 2M (250.0) from the same noise.",
      'With two evaluations it scores 9.1; the teacher with DDIM at 10 evaluations scores 13.8 (the consistency model is as good or better).',
      'From 1 to 4 evaluations its FD falls from 12.3 to 8.4.',
      "The classifier reads 88.0% of the consistency model's one-step digits with confidence ≥ 0.9, against 20.0% for one-step DDIM, 20.0% for one-step DPM-Solver++ 2M and 93.0% for DDPM with 1,000 evaluations.",
      'Read as the digit asked for: 95.0% of its one-step digits, against 95.0% for one-step DDIM and 95.0% for one-step DPM-Solver++ 2M.',
    ]);
  });

  it('says when a teacher’s digits are read confidently but seldom as the digit asked for (blurred averages)', () => {
    const json = fixture();
    const rows = (json.consistency as Json).rows as Json;
    rows['teacher-ddim-nfe1'] = ddim(1, 2200, 0.945, { spacing: 'trailing', conditionAccuracy: 0.112 });
    rows['consistency-nfe1'] = cm(1, 42.1, 0.642);
    (rows['consistency-nfe1'] as Json).conditionAccuracy = 0.793;
    const text = consistencySummary(view(json)).map(partsText);
    expect(text).toContain(
      'Read as the digit asked for: 79.3% of its one-step digits, against 11.2% for one-step DDIM and 95.0% for one-step DPM-Solver++ 2M (a blurred average can be read confidently as some digit without being the one asked for).',
    );
  });

  it('says so when the numbers come out the other way', () => {
    const json = fixture();
    const rows = json.consistency.rows;
    rows['consistency-nfe1'].fd = 300;
    rows['consistency-nfe2'].fd = 20;
    rows['consistency-nfe4'].fd = 310;
    const text = consistencySummary(view(json)).map(partsText);
    expect(text[0]).toContain('300.0, no lower than the teacher');
    expect(text[1]).toContain('(the teacher is better)');
    expect(text[2]).toBe('From 1 to 4 evaluations its FD rises from 300.0 to 310.0.');
    rows['teacher-ddim-nfe1'].fd = 400;
    expect(consistencySummary(view(json)).map(partsText)[0]).toContain('300.0, between the teacher');
  });

  it('leaves out a sentence whose numbers are missing and keeps the numbers as measured parts', () => {
    const json = fixture();
    delete json.consistency.rows['teacher-ddim-nfe10'];
    json.consistency.rows['consistency-nfe1'].confidentShare = null;
    json.consistency.rows['consistency-nfe1'].conditionAccuracy = 'n/a';
    const parts = consistencySummary(view(json));
    const text = parts.map(partsText);
    expect(text.some((t) => t.includes('10 evaluations'))).toBe(false);
    expect(text.some((t) => t.startsWith('The classifier'))).toBe(false);
    expect(text.some((t) => t.startsWith('Read as the digit'))).toBe(false);
    expect(text).toHaveLength(2);
    const numbers = parts[0].filter((p) => typeof p !== 'string');
    expect(numbers.map((p) => (p as { value: number }).value)).toEqual([12.3, 250, 250]);
  });

  it('never rounds a measured share onto 100 %', () => {
    const json = fixture();
    json.consistency.rows['consistency-nfe1'].confidentShare = 0.9996;
    const v = view(json);
    expect(v.lines[0].cells.get(1)!.confident!.text).not.toBe('100.0%');
  });
});
