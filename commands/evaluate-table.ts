import type { Evaluation } from '../src/metrics/evaluate.js';
import type { LabelStatistics } from '../src/metrics/summary.js';

/** The terminal summary in the layout of the paper's Table 1: median and mean per label and over the foreground. */
export function formatEvaluationTable(evaluation: Evaluation): string {
  const { summary } = evaluation;
  const metrics: [string, string, number, LabelStatistics][] = [
    ['Dice', 'Dice', 3, summary],
    ['IoU', 'IoU', 3, summary],
    [evaluation.hdKey, `${evaluation.hdKey} mm`, 2, summary],
  ];
  const longitudinal = summary.longitudinal;
  if (longitudinal) {
    metrics.push(
      ['STCS', 'STCS', 3, longitudinal],
      ['ASPC', 'ASPC %', 2, longitudinal],
      ['STCS_ref', 'STCS ref', 3, longitudinal],
      ['ASPC_ref', 'ASPC ref %', 2, longitudinal],
    );
  }
  const header = ['label', 'name', ...metrics.map(([, title]) => `${title} (median / mean)`)];
  const cell = (median: number | null | undefined, mean: number | null | undefined, digits: number) =>
    `${median == null ? '–' : median.toFixed(digits)} / ${mean == null ? '–' : mean.toFixed(digits)}`;
  const rows = evaluation.labels.map((label) => [
    String(label),
    evaluation.table?.get(label) ?? '',
    ...metrics.map(([key, , digits, source]) => cell(source.median[label]?.[key], source.mean[label]?.[key], digits)),
  ]);
  rows.push([
    'all',
    'foreground',
    ...metrics.map(([key, , digits, source]) =>
      cell(source.foreground_median[key], source.foreground_mean[key], digits),
    ),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) =>
    cells
      .map((v, c) => v.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}
