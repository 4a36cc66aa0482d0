import { describe, expect, it } from 'vitest';
import { ProgressBar, formatDuration, formatLoss, formatProgress } from '../../scripts/lib/progress';

describe('progress line', () => {
  it('formats durations as m:ss or h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(61_000)).toBe('1:01');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
    expect(formatDuration(NaN)).toBe('--:--');
  });

  it('shows step/total, percent, loss, rate, elapsed and an ETA from the session rate', () => {
    // 50 steps in this session took 10 s → 5 it/s; 150 remain → 30 s
    const line = formatProgress({ step: 250, total: 400, loss: 0.123456, elapsedMs: 10_000, sessionSteps: 50, priorMs: 60_000 }, 10);
    expect(line).toContain('[######....]');
    expect(line).toContain('250/400');
    expect(line).toContain(' 62%');
    expect(line).toContain('loss 0.1235');
    expect(line).toContain('5.00 it/s');
    expect(line).toContain('elapsed 1:10');
    expect(line).toContain('ETA 0:30');
    expect(formatLoss(undefined)).toBe('…');
    expect(formatLoss(2.5e-5)).toBe('2.50e-5');
  });

  it('prints plain lines (throttled) when the stream is not a terminal', () => {
    const out: string[] = [];
    const stream = { isTTY: false, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar(stream, 60_000);
    const p = { step: 1, total: 10, elapsedMs: 100, sessionSteps: 1 };
    bar.update(p);
    bar.update({ ...p, step: 2 }); // within the throttle window: dropped
    bar.done({ ...p, step: 10 });
    expect(out.length).toBe(2);
    expect(out[1]).toMatch(/10\/10/);
    expect(out.every((s) => s.endsWith('\n') && !s.includes('\r'))).toBe(true);
  });
});
