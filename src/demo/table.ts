import { pairedTTest, wilcoxonSignedRank } from '../metrics/paired-tests.js';
import { mean, sampleSd } from '../metrics/statistics.js';
import type { EvaluationSummary, LongitudinalSummary } from '../metrics/summary.js';

/** The slice of `longiseg evaluate --longitudinal`'s summary.json the demo table reads. */
export type EvaluateSummary = Pick<EvaluationSummary, 'foreground_median'> & {
  longitudinal?: Pick<LongitudinalSummary, 'foreground_median'>;
};

/** One row of the table: a method's summaries, one per finetuning seed. */
export interface MethodResults {
  title: string;
  summaries: EvaluateSummary[];
}

interface Measure {
  column: string;
  higherIsBetter: boolean;
  value: (summary: EvaluateSummary) => number | null | undefined;
}

const MEASURES: Measure[] = [
  { column: 'Dice ↑', higherIsBetter: true, value: (s) => s.foreground_median.Dice },
  { column: 'IoU ↑', higherIsBetter: true, value: (s) => s.foreground_median.IoU },
  { column: 'HD95 mm ↓', higherIsBetter: false, value: (s) => s.foreground_median.HD95 },
  { column: 'ASPC % ↓', higherIsBetter: false, value: (s) => s.longitudinal?.foreground_median.ASPC },
  { column: 'STCS ↑', higherIsBetter: true, value: (s) => s.longitudinal?.foreground_median.STCS },
];

const fixed = (value: number | null | undefined, digits = 3) =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : value.toFixed(digits);

/** A cell: the value of one seed, or the mean ± standard deviation over several. */
function cell(values: (number | null | undefined)[]): string {
  const known = values.filter((v): v is number => v !== undefined && v !== null);
  if (known.length === 0) return '–';
  return known.length === 1 ? fixed(known[0]) : `${fixed(mean(known))} ± ${fixed(sampleSd(known))}`;
}

/**
 * Medians over the test subjects' sessions and labels, laid out as the paper's Table 1 (with its GT
 * row); with several seeds, each cell is the mean ± SD over seeds of those medians.
 */
export function demoTable(methods: MethodResults[]): string[][] {
  const reference = methods[0].summaries[0].longitudinal?.foreground_median;
  return [
    ['Method', ...MEASURES.map((m) => m.column)],
    ['GT', '–', '–', '–', fixed(reference?.ASPC_ref), fixed(reference?.STCS_ref)],
    ...methods.map(({ title, summaries }) => [title, ...MEASURES.map((m) => cell(summaries.map(m.value)))]),
  ];
}

/**
 * What the seeds say about `method` against `baseline`, measure by measure: the mean paired
 * difference with its SD, the paired t-test and Wilcoxon p, and whether the difference stands out
 * of the seed-to-seed spread (t-test p < 0.05) or not.
 */
export function seedComparison(method: MethodResults, baseline: MethodResults): string[] {
  const seeds = method.summaries.length;
  return MEASURES.filter((m) => m.column !== 'IoU ↑').map((m) => {
    const a = method.summaries.map(m.value);
    const b = baseline.summaries.map(m.value);
    const name = m.column.split(' ')[0];
    if ([...a, ...b].some((v) => v === undefined || v === null)) return `${name}: not measured in every seed`;
    const [x, y] = [a as number[], b as number[]];
    const differences = x.map((v, i) => v - y[i]);
    const { p } = pairedTTest(x, y);
    const wilcoxon = wilcoxonSignedRank(x, y).p;
    const better = m.higherIsBetter === mean(differences) > 0;
    const tests = `paired t-test p = ${fixed(p)}, Wilcoxon p = ${fixed(wilcoxon)}`;
    const verdict =
      p < 0.05 ? `${method.title} ${better ? 'better' : 'worse'}` : 'inside the spread over seeds: no difference shown';
    const sign = (v: number) => `${Number(fixed(v)) < 0 ? '−' : '+'}${fixed(Math.abs(v))}`;
    return `${name}: ${sign(mean(differences))} ± ${fixed(sampleSd(differences))} (${method.title} − ${baseline.title}, ${seeds} seeds; ${tests}): ${verdict}`;
  });
}

/** A Markdown table (also readable as plain text). */
export function formatMarkdownTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n');
}
