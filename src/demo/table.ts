/** The slice of `longiseg evaluate --longitudinal`'s summary.json the demo table reads. */
export interface EvaluateSummary {
  foreground_median: { Dice: number; IoU: number; HD95: number };
  longitudinal?: { foreground_median: { STCS: number; ASPC: number; STCS_ref: number; ASPC_ref: number } };
}

const COLUMNS = ['Method', 'Dice ↑', 'IoU ↑', 'HD95 mm ↓', 'ASPC % ↓', 'STCS ↑'];

/** Medians over the test subjects' sessions and labels, laid out as the paper's Table 1 (with its GT row). */
export function demoTable(methods: { title: string; summary: EvaluateSummary }[]): string[][] {
  const fixed = (value: number | undefined, digits: number) => (value === undefined || value === null ? '–' : value.toFixed(digits));
  const reference = methods[0].summary.longitudinal?.foreground_median;
  return [
    COLUMNS,
    ['GT', '–', '–', '–', fixed(reference?.ASPC_ref, 3), fixed(reference?.STCS_ref, 3)],
    ...methods.map(({ title, summary }) => [title, fixed(summary.foreground_median.Dice, 3), fixed(summary.foreground_median.IoU, 3), fixed(summary.foreground_median.HD95, 3), fixed(summary.longitudinal?.foreground_median.ASPC, 3), fixed(summary.longitudinal?.foreground_median.STCS, 3)]),
  ];
}

/** A Markdown table (also readable as plain text). */
export function formatMarkdownTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n');
}
