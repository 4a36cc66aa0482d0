/** Readouts in widgets: core/format.ts's formatSig with its defaults (4 significant digits, true minus). */
import { formatSig } from '../../core/format';

export const fmt = (v: number): string => formatSig(v);
