import { describe, expect, it } from 'vitest';
import { DDPM_SETTING, rmsText, solverTables } from '../../src/components/lesson/solvers';

/** A models/eval.json in the shape scripts/eval/solvers.ts and scripts/eval/unet.ts write, with made-up numbers. */
function fixture(): Record<string, unknown> {
  const row = (sampler: string, label: string, nfe: number, steps: number, fd: number, rms: number, count = 1000) => ({ sampler, label, nfe, steps, count, fd, rmsToReference: rms, seconds: 1 });
  return {
    unet: {
      settings: {
        [DDPM_SETTING]: { label: 'DDPM, σ² = β', sampler: 'ddpm', steps: 1000, count: 1000, metrics: { fd: 4.4 }, byCount: { '200': { fd: 12.5 }, '1000': { fd: 4.4 } } },
      },
    },
    solvers: {
      model: 'models/unet-mnist',
      reference: { sampler: 'dpmpp2m', label: 'DPM-Solver++ 2M', steps: 500, count: 1000, fd: 7.7, seconds: 10 },
      fdFloor: 4.17,
      // Deliberately out of the registry's order, and one setting (ddim at 5) missing.
      rows: {
        'heun-nfe5': row('heun', 'Heun', 5, 3, 60.1, 0.21),
        'heun-nfe10': row('heun', 'Heun', 9, 5, 12.3, 0.051),
        'dpmpp2m-nfe5': row('dpmpp2m', 'DPM-Solver++ 2M', 5, 5, 40.2, 0.12),
        'dpmpp2m-nfe10': row('dpmpp2m', 'DPM-Solver++ 2M', 10, 10, 9.1, 0.03),
        'ddim-nfe10': row('ddim', 'DDIM', 10, 10, 15.5, 0.09),
      },
    },
  };
}

describe('solverTables', () => {
  it('lays the rows out by sampler in the registry’s order and by NFE budget, ascending', () => {
    const v = solverTables(fixture())!;
    expect(v.budgets).toEqual([5, 10]);
    expect(v.rows.map((r) => r.sampler)).toEqual(['ddim', 'dpmpp2m', 'heun']);
    expect(v.rows.map((r) => r.label)).toEqual(['DDIM', 'DPM-Solver++ 2M', 'Heun']);
    expect(v.rows[1].cells.map((c) => c?.rms)).toEqual([0.12, 0.03]);
    expect(v.rows[1].cells.map((c) => c?.fd)).toEqual([40.2, 9.1]);
  });

  it('leaves a setting that was not measured empty instead of moving the others', () => {
    const v = solverTables(fixture())!;
    expect(v.rows[0].cells[0]).toBeNull();
    expect(v.rows[0].cells[1]?.fdText).toBe('15.50');
  });

  it('files a row under the budget of its key and keeps the evaluations it used (Heun: 2 · steps − 1)', () => {
    const heun = solverTables(fixture())!.rows[2];
    expect(heun.cells[1]).toMatchObject({ nfe: 9, steps: 5 });
    expect(heun.cells[0]).toMatchObject({ nfe: 5, steps: 3 });
  });

  it('marks the smallest RMS distance of each column, and none in a column with a single measurement', () => {
    const v = solverTables(fixture())!;
    expect(v.rows.map((r) => r.cells[1]?.closest)).toEqual([false, true, false]);
    expect(v.rows.map((r) => r.cells[0]?.closest)).toEqual([undefined, true, false]);
    const one = fixture();
    (one.solvers as { rows: Record<string, unknown> }).rows = { 'ddim-nfe10': (fixture().solvers as { rows: Record<string, unknown> }).rows['ddim-nfe10'] };
    expect(solverTables(one)!.rows[0].cells[0]?.closest).toBe(false);
  });

  it('formats distances with three significant digits and FD with two decimals, through formatNumber', () => {
    const v = solverTables(fixture())!;
    expect(v.rows[2].cells[1]?.rmsText).toBe('0.0510');
    expect(v.rows[0].cells[1]?.rmsText).toBe('0.0900');
    expect(v.rows[2].cells[0]?.rmsText).toBe('0.210');
    expect(rmsText(0.00125)).toBe('0.00125');
    expect(rmsText(0.123456)).toBe('0.123');
    expect(rmsText(1.5)).toBe('1.50');
    expect(rmsText(0.0000234)).toBe('2.34 × 10⁻⁵');
    expect(rmsText(0)).toBe('0.000');
    expect(rmsText(null)).toBe('—');
    expect(v.rows[1].cells[1]?.fdText).toBe('9.10');
    expect(v.reference?.fdText).toBe('7.70');
    expect(v.fdFloor?.text).toBe('4.17');
  });

  it('compares the converged solution with DDPM-1000 at the same number of digits', () => {
    const v = solverTables(fixture())!;
    expect(v.reference).toMatchObject({ label: 'DPM-Solver++ 2M', steps: 500, count: 1000, fd: 7.7 });
    expect(v.ddpm).toMatchObject({ label: 'DDPM, σ² = β', count: 1000, fd: 4.4 });
    expect(v.odeOverDdpm?.value).toBeCloseTo(7.7 / 4.4, 12);
    expect(v.odeOverDdpm?.text).toBe('1.75');
    expect(v.counts).toEqual([1000]);
  });

  it('reads DDPM-1000 at the reference’s count from byCount, and gives no ratio when that count was not scored', () => {
    const at200 = fixture();
    (at200.solvers as { reference: { count: number } }).reference.count = 200;
    const v = solverTables(at200)!;
    expect(v.ddpm?.fd).toBe(12.5);
    expect(v.odeOverDdpm?.value).toBeCloseTo(7.7 / 12.5, 12);
    const at300 = fixture();
    (at300.solvers as { reference: { count: number } }).reference.count = 300;
    expect(solverTables(at300)!.ddpm).toBeNull();
    expect(solverTables(at300)!.odeOverDdpm).toBeNull();
  });

  it('lists every digit count when the settings scored different numbers of digits', () => {
    const mixed = fixture();
    (mixed.solvers as { rows: Record<string, { count: number }> }).rows['heun-nfe5'].count = 400;
    expect(solverTables(mixed)!.counts).toEqual([400, 1000]);
  });

  it('shows "—" for a field of the wrong type and skips a row it cannot place', () => {
    const bad = fixture();
    const rows = (bad.solvers as { rows: Record<string, Record<string, unknown>> }).rows;
    rows['ddim-nfe10'].fd = 'n/a';
    rows['ddim-nfe10'].rmsToReference = Number.NaN;
    rows['euler-nfe10'] = { label: 'Euler', nfe: 10 }; // no sampler
    rows['junk'] = null as unknown as Record<string, unknown>;
    const v = solverTables(bad)!;
    expect(v.rows.map((r) => r.sampler)).toEqual(['ddim', 'dpmpp2m', 'heun']);
    expect(v.rows[0].cells[1]).toMatchObject({ fd: null, rms: null, fdText: '—', rmsText: '—', closest: false });
  });

  it('returns null when eval.json is missing, has no solvers section, or the section has no rows', () => {
    expect(solverTables(undefined)).toBeNull();
    expect(solverTables({ unet: {} })).toBeNull();
    expect(solverTables({ solvers: {} })).toBeNull();
    expect(solverTables({ solvers: { rows: {} } })).toBeNull();
    expect(solverTables({ solvers: { rows: [] } })).toBeNull();
  });

  it('still renders the tables without a reference, DDPM row or floor', () => {
    const bare = fixture();
    delete (bare.solvers as Record<string, unknown>).reference;
    delete (bare.solvers as Record<string, unknown>).fdFloor;
    delete bare.unet;
    const v = solverTables(bare)!;
    expect(v.rows.length).toBe(3);
    expect(v.reference).toBeNull();
    expect(v.ddpm).toBeNull();
    expect(v.odeOverDdpm).toBeNull();
    expect(v.fdFloor).toBeNull();
  });
});
