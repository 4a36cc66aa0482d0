/** Writes the model card README.md of a trained model (markdown; pure string building). */

export interface EvalRow {
  metric: string;
  value: number | string;
  note?: string;
}

export interface ModelCardInfo {
  name: string;
  title: string;
  /** One paragraph: what the model is and what the site uses it for. */
  summary: string;
  /** Markdown: the training data. */
  data: string;
  /** Markdown: the architecture. */
  architecture: string;
  paramCount: number;
  /** The resolved training config (printed as a table). */
  config: Record<string, unknown>;
  steps: number;
  wallTimeSec: number;
  backend: string;
  machine: string;
  command: string;
  evaluation: EvalRow[];
  lossSvg?: string;
  samplesImage?: string;
  samplesCaption?: string;
  /** Short alt text of the sample image (default "Sample grid"). */
  samplesAlt?: string;
  /** Files of the model folder and their sizes. */
  files: { name: string; bytes: number }[];
  /** Extra markdown sections appended at the end. */
  notes?: string;
}

const fmtNumber = (v: number) => (Number.isInteger(v) ? v.toLocaleString('en-US') : Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 0.01 ? v.toFixed(4) : v.toExponential(3));
const cell = (v: unknown) => String(typeof v === 'number' ? fmtNumber(v) : typeof v === 'object' ? JSON.stringify(v) : v).replace(/\|/g, '\\|');

/** Human-readable byte count. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function formatWall(sec: number): string {
  if (sec < 90) return `${sec.toFixed(0)} s`;
  if (sec < 5400) return `${(sec / 60).toFixed(1)} min`;
  return `${(sec / 3600).toFixed(2)} h`;
}

export function renderModelCard(c: ModelCardInfo): string {
  const lines: string[] = [];
  lines.push(`# ${c.title} (\`${c.name}\`)`, '', c.summary, '');
  lines.push('## Data', '', c.data, '');
  lines.push('## Architecture', '', c.architecture, '', `Parameters: **${fmtNumber(c.paramCount)}**.`, '');
  lines.push('## Training', '');
  lines.push(
    `${fmtNumber(c.steps)} steps in ${formatWall(c.wallTimeSec)} of wall time on the \`${c.backend}\` backend (${c.machine}).`,
    '',
    `Reproduce with \`${c.command}\`.`,
    '',
    '| setting | value |',
    '|---|---|',
    ...Object.entries(c.config).map(([k, v]) => `| ${k} | ${cell(v)} |`),
    '',
  );
  if (c.lossSvg) lines.push(`![Training loss](${c.lossSvg})`, '');
  lines.push('## Evaluation', '', '| metric | value | note |', '|---|---|---|');
  for (const r of c.evaluation) lines.push(`| ${cell(r.metric)} | ${cell(r.value)} | ${cell(r.note ?? '')} |`);
  lines.push('');
  if (c.samplesImage) {
    lines.push('## Samples', '', `![${c.samplesAlt ?? 'Sample grid'}](${c.samplesImage})`, '');
    if (c.samplesCaption) lines.push(c.samplesCaption, '');
  }
  lines.push('## Files', '', '| file | size |', '|---|---|', ...c.files.map((f) => `| ${f.name} | ${formatBytes(f.bytes)} |`), '');
  if (c.notes) lines.push(c.notes.trim(), '');
  return lines.join('\n');
}
