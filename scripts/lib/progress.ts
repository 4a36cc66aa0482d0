/** Node-only: a one-line training progress bar on stderr (redrawn in place on a TTY, a line every ~10 s otherwise). */
import { formatSig } from '../../src/core/format';

export interface ProgressState {
  step: number;
  total: number;
  /** Latest (smoothed) loss, if known yet. */
  loss?: number;
  /** Wall time of this session so far, ms. */
  elapsedMs: number;
  /** Steps taken in this session (for the rate; excludes steps restored from a checkpoint). */
  sessionSteps: number;
  /** Wall time of earlier sessions (resumed runs), ms. */
  priorMs?: number;
}

/** h:mm:ss or m:ss. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '--:--';
  const t = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** A loss with 4 significant digits, trailing zeros kept (exponent form when tiny), ASCII for terminals. */
export function formatLoss(loss: number | undefined): string {
  if (loss === undefined) return '…';
  if (!Number.isFinite(loss)) return String(loss);
  return formatSig(loss, { trailingZeros: true, sciFrom: Infinity, ascii: true });
}

/** The progress line: `[####......] 120/600  20%  loss 0.1234  3.20 it/s  elapsed 0:37  ETA 2:30`. */
export function formatProgress(p: ProgressState, barWidth = 24): string {
  const frac = p.total > 0 ? Math.min(1, p.step / p.total) : 0;
  const filled = Math.round(frac * barWidth);
  const rate = p.sessionSteps > 0 && p.elapsedMs > 0 ? (p.sessionSteps * 1000) / p.elapsedMs : NaN;
  const eta = Number.isFinite(rate) ? ((p.total - p.step) / rate) * 1000 : NaN;
  const width = String(p.total).length;
  return [
    `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`,
    `${String(p.step).padStart(width)}/${p.total}`,
    `${String(Math.floor(frac * 100)).padStart(3)}%`,
    `loss ${formatLoss(p.loss)}`,
    `${Number.isFinite(rate) ? rate.toFixed(rate >= 10 ? 1 : 2) : '-'} it/s`,
    `elapsed ${formatDuration(p.elapsedMs + (p.priorMs ?? 0))}`,
    `ETA ${formatDuration(eta)}`,
  ].join('  ');
}

export class ProgressBar {
  private lastPlain = 0;
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly plainEveryMs = 10_000,
  ) {}

  /** Redraw the line (TTY) or print it when enough time has passed (log file). */
  update(p: ProgressState, force = false): void {
    const line = formatProgress(p);
    if (this.stream.isTTY) {
      const cols = this.stream.columns ?? 120;
      this.stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 2))}`);
    } else if (force || Date.now() - this.lastPlain >= this.plainEveryMs) {
      this.lastPlain = Date.now();
      this.stream.write(line + '\n');
    }
  }

  /** End the line so later output starts on a fresh one. */
  done(p?: ProgressState): void {
    if (p) this.update(p, true);
    if (this.stream.isTTY) this.stream.write('\n');
  }

  /** Print a message without breaking the bar. */
  log(message: string): void {
    if (this.stream.isTTY) this.stream.write(`\r\x1b[K${message}\n`);
    else this.stream.write(message + '\n');
  }
}
