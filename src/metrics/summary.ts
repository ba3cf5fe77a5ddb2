import type { LabelTable } from '../io/labels.js';
import type { LabelMetrics } from './case.js';
import type { CaseResult } from './group.js';
import { describe } from './statistics.js';

export interface LongitudinalRow {
  subject: string;
  sessionA: string;
  sessionB: string;
  label: number;
  stcs: number | null;
  aspc: number | null;
  stcsRef: number | null;
  aspcRef: number | null;
  years: number | null;
}

/** Metrics of a label in a case where neither map holds it. */
export function absentLabel(label: number): LabelMetrics {
  return {
    label,
    dice: null,
    iou: null,
    hd: 0,
    hdStatus: 'both_empty',
    tp: 0,
    fp: 0,
    fn: 0,
    nPred: 0,
    nRef: 0,
    volPredMm3: 0,
    volRefMm3: 0,
  };
}

/** The HD value a case contributes to means: its HD, the diagonal when one mask is empty, nothing when both are. */
export function hdForAggregation(metrics: LabelMetrics, diagonal: number): number | undefined {
  if (metrics.hdStatus === 'ok') return metrics.hd!;
  if (metrics.hdStatus === 'both_empty') return undefined;
  return diagonal;
}

type StatName = 'mean' | 'median' | 'std';
const STAT_NAMES: StatName[] = ['mean', 'median', 'std'];

/** A statistic of each measure (Dice, IoU, HD95, …; TP … vol_ref_mm3 per label only); null when undefined. */
export type MeasureValues = Record<string, number | null>;

/** Per-label and foreground statistics of a set of measures. */
export interface LabelStatistics {
  /** The mean of the per-label means (nnU-Net). */
  foreground_mean: MeasureValues;
  /** The median and SD of every (case, label) value pooled. */
  foreground_median: MeasureValues;
  foreground_std: MeasureValues;
  /** Label (as a string) → measure → value. */
  mean: Record<string, MeasureValues>;
  median: Record<string, MeasureValues>;
  std: Record<string, MeasureValues>;
}

export interface LabelCounts {
  cases: number;
  dice_undefined: number;
  hd_both_empty: number;
  hd_pred_empty: number;
  hd_ref_empty: number;
  hd_penalised: number;
}

export interface CaseEntry {
  subject: string;
  session: string | null;
  prediction_file: string;
  reference_file: string;
  resampled: boolean;
  /** Label → measure → value (and `<HD>_status`). */
  metrics: Record<string, Record<string, number | string | null>>;
}

export interface LongitudinalSummary extends LabelStatistics {
  annualized: boolean;
  session_pairs: number;
  skipped_subjects: string[];
}

/** summary.json of `longiseg evaluate`. */
export interface EvaluationSummary extends LabelStatistics {
  meta: Record<string, unknown> & { labels: Record<string, string | null> };
  counts: Record<string, LabelCounts>;
  metric_per_case: CaseEntry[];
  longitudinal?: LongitudinalSummary;
}

export interface SummaryInputs {
  cases: CaseResult[];
  labels: number[];
  table: LabelTable | undefined;
  hdKey: string;
  longitudinal?: { rows: LongitudinalRow[]; annualized: boolean; skippedSubjects: string[] };
  meta: Record<string, unknown>;
}

/** summary.json: nnU-Net's keys (metric_per_case, mean, foreground_mean) plus medians, SDs and counts. */
export function buildSummary(inputs: SummaryInputs): EvaluationSummary {
  const { cases, labels, hdKey } = inputs;
  const metricPerCase = cases.map((c) => ({
    subject: c.subject,
    session: c.session || null,
    prediction_file: c.predFile,
    reference_file: c.refFile,
    resampled: c.resampled,
    metrics: Object.fromEntries(c.metrics.map((m) => [String(m.label), caseMetricsJson(m, hdKey)])),
  }));
  const entriesOf = (label: number) =>
    cases.map((c) => ({ m: c.metrics.find((m) => m.label === label) ?? absentLabel(label), diagonal: c.diagonalMm }));
  const statistics = labelStatistics(labels, ['Dice', 'IoU', hdKey], (label) => {
    const entries = entriesOf(label);
    return {
      Dice: entries.flatMap(({ m }) => (m.dice === null ? [] : [m.dice])),
      IoU: entries.flatMap(({ m }) => (m.iou === null ? [] : [m.iou])),
      [hdKey]: entries.flatMap(({ m, diagonal }) => {
        const v = hdForAggregation(m, diagonal);
        return v === undefined ? [] : [v];
      }),
      TP: entries.map(({ m }) => m.tp),
      FP: entries.map(({ m }) => m.fp),
      FN: entries.map(({ m }) => m.fn),
      n_pred: entries.map(({ m }) => m.nPred),
      n_ref: entries.map(({ m }) => m.nRef),
      vol_pred_mm3: entries.map(({ m }) => m.volPredMm3),
      vol_ref_mm3: entries.map(({ m }) => m.volRefMm3),
    };
  });
  const counts = Object.fromEntries(
    labels.map((label) => {
      const entries = entriesOf(label);
      const count = (test: (m: LabelMetrics) => boolean) => entries.filter(({ m }) => test(m)).length;
      return [
        String(label),
        {
          cases: entries.length,
          dice_undefined: count((m) => m.dice === null),
          hd_both_empty: count((m) => m.hdStatus === 'both_empty'),
          hd_pred_empty: count((m) => m.hdStatus === 'pred_empty'),
          hd_ref_empty: count((m) => m.hdStatus === 'ref_empty'),
          hd_penalised: count((m) => m.hdStatus === 'pred_empty' || m.hdStatus === 'ref_empty'),
        },
      ];
    }),
  );
  const summary: EvaluationSummary = {
    meta: { ...inputs.meta, labels: Object.fromEntries(labels.map((l) => [String(l), inputs.table?.get(l) ?? null])) },
    ...statistics,
    counts,
    metric_per_case: metricPerCase,
  };
  if (inputs.longitudinal) summary.longitudinal = longitudinalSummary(inputs.longitudinal, labels);
  return summary;
}

/**
 * mean, median and std per label of every series, and over the foreground for `foregroundKeys`:
 * foreground_mean is the mean of the per-label means (nnU-Net); foreground_median and
 * foreground_std pool every (case, label) value.
 */
function labelStatistics(
  labels: number[],
  foregroundKeys: string[],
  seriesOf: (label: number) => Record<string, number[]>,
): LabelStatistics {
  const perLabel: Record<StatName, Record<string, MeasureValues>> = { mean: {}, median: {}, std: {} };
  const pooled: Record<string, number[]> = Object.fromEntries(foregroundKeys.map((k) => [k, []]));
  const labelMeans: Record<string, number[]> = Object.fromEntries(foregroundKeys.map((k) => [k, []]));
  for (const label of labels) {
    const series = seriesOf(label);
    const described = mapValues(series, describe);
    for (const stat of STAT_NAMES) perLabel[stat][String(label)] = mapValues(described, (d) => d[stat]);
    for (const key of foregroundKeys) {
      pooled[key].push(...series[key]);
      if (described[key].mean !== null) labelMeans[key].push(described[key].mean!);
    }
  }
  return {
    foreground_mean: mapValues(labelMeans, (v) => describe(v).mean),
    foreground_median: mapValues(pooled, (v) => describe(v).median),
    foreground_std: mapValues(pooled, (v) => describe(v).std),
    mean: perLabel.mean,
    median: perLabel.median,
    std: perLabel.std,
  };
}

function caseMetricsJson(m: LabelMetrics, hdKey: string): Record<string, number | string | null> {
  return {
    Dice: m.dice,
    IoU: m.iou,
    [hdKey]: m.hd,
    [`${hdKey}_status`]: m.hdStatus,
    TP: m.tp,
    FP: m.fp,
    FN: m.fn,
    n_pred: m.nPred,
    n_ref: m.nRef,
    vol_pred_mm3: m.volPredMm3,
    vol_ref_mm3: m.volRefMm3,
  };
}

function mapValues<V, W>(record: Record<string, V>, f: (value: V) => W): Record<string, W> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

function longitudinalSummary(input: NonNullable<SummaryInputs['longitudinal']>, labels: number[]): LongitudinalSummary {
  const defined = (rows: LongitudinalRow[], pick: (r: LongitudinalRow) => number | null) =>
    rows.map(pick).filter((v): v is number => v !== null);
  return {
    annualized: input.annualized,
    session_pairs: new Set(input.rows.map((r) => `${r.subject}/${r.sessionA}/${r.sessionB}`)).size,
    skipped_subjects: input.skippedSubjects,
    ...labelStatistics(labels, ['STCS', 'ASPC', 'STCS_ref', 'ASPC_ref'], (label) => {
      const rows = input.rows.filter((r) => r.label === label);
      return {
        STCS: defined(rows, (r) => r.stcs),
        ASPC: defined(rows, (r) => r.aspc),
        STCS_ref: defined(rows, (r) => r.stcsRef),
        ASPC_ref: defined(rows, (r) => r.aspcRef),
      };
    }),
  };
}
