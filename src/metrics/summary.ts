import type { LabelTable } from '../io/labels.js';
import type { LabelMetrics } from './case.js';
import type { CaseResult } from './group.js';
import { describe, type Statistics } from './statistics.js';

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
  return { label, dice: null, iou: null, hd: 0, hdStatus: 'both_empty', tp: 0, fp: 0, fn: 0, nPred: 0, nRef: 0, volPredMm3: 0, volRefMm3: 0 };
}

/** The HD value a case contributes to means: its HD, the diagonal when one mask is empty, nothing when both are. */
export function hdForAggregation(metrics: LabelMetrics, diagonal: number): number | undefined {
  if (metrics.hdStatus === 'ok') return metrics.hd!;
  if (metrics.hdStatus === 'both_empty') return undefined;
  return diagonal;
}

type StatName = 'mean' | 'median' | 'std';
const STAT_NAMES: StatName[] = ['mean', 'median', 'std'];

export interface SummaryInputs {
  cases: CaseResult[];
  labels: number[];
  table: LabelTable | undefined;
  hdKey: string;
  longitudinal?: { rows: LongitudinalRow[]; annualized: boolean; skippedSubjects: string[] };
  meta: Record<string, unknown>;
}

/** summary.json: nnU-Net's keys (metric_per_case, mean, foreground_mean) plus medians, SDs and counts. */
export function buildSummary(inputs: SummaryInputs): Record<string, unknown> {
  const { cases, labels, hdKey } = inputs;
  const metricPerCase = cases.map((c) => ({
    subject: c.subject,
    session: c.session || null,
    prediction_file: c.predFile,
    reference_file: c.refFile,
    resampled: c.resampled,
    metrics: Object.fromEntries(c.metrics.map((m) => [String(m.label), caseMetricsJson(m, hdKey)])),
  }));
  const perLabel: Record<StatName, Record<string, Record<string, number | null>>> = { mean: {}, median: {}, std: {} };
  const counts: Record<string, Record<string, number>> = {};
  const pooled: Record<string, number[]> = { Dice: [], IoU: [], [hdKey]: [] };
  const labelMeans: Record<string, number[]> = { Dice: [], IoU: [], [hdKey]: [] };
  for (const label of labels) {
    const entries = cases.map((c) => ({ m: c.metrics.find((m) => m.label === label) ?? absentLabel(label), diagonal: c.diagonalMm }));
    const series: Record<string, number[]> = {
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
    addStatistics(perLabel, String(label), series);
    for (const key of Object.keys(pooled)) {
      pooled[key].push(...series[key]);
      const mean = describe(series[key]).mean;
      if (mean !== null) labelMeans[key].push(mean);
    }
    counts[String(label)] = {
      cases: entries.length,
      dice_undefined: entries.filter(({ m }) => m.dice === null).length,
      hd_both_empty: entries.filter(({ m }) => m.hdStatus === 'both_empty').length,
      hd_pred_empty: entries.filter(({ m }) => m.hdStatus === 'pred_empty').length,
      hd_ref_empty: entries.filter(({ m }) => m.hdStatus === 'ref_empty').length,
      hd_penalised: entries.filter(({ m }) => m.hdStatus === 'pred_empty' || m.hdStatus === 'ref_empty').length,
    };
  }
  const summary: Record<string, unknown> = {
    meta: { ...inputs.meta, labels: Object.fromEntries(labels.map((l) => [String(l), inputs.table?.get(l) ?? null])) },
    foreground_mean: mapValues(labelMeans, (v) => describe(v).mean),
    foreground_median: mapValues(pooled, (v) => describe(v).median),
    foreground_std: mapValues(pooled, (v) => describe(v).std),
    mean: perLabel.mean,
    median: perLabel.median,
    std: perLabel.std,
    counts,
    metric_per_case: metricPerCase,
  };
  if (inputs.longitudinal) summary.longitudinal = longitudinalSummary(inputs.longitudinal, labels);
  return summary;
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

function addStatistics(target: Record<StatName, Record<string, Record<string, number | null>>>, key: string, series: Record<string, number[]>): void {
  const described: Record<string, Statistics> = mapValues(series, describe);
  for (const stat of STAT_NAMES) target[stat][key] = mapValues(described, (s) => s[stat]);
}

function mapValues<V, W>(record: Record<string, V>, f: (value: V) => W): Record<string, W> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

function longitudinalSummary(input: NonNullable<SummaryInputs['longitudinal']>, labels: number[]): Record<string, unknown> {
  const perLabel: Record<StatName, Record<string, Record<string, number | null>>> = { mean: {}, median: {}, std: {} };
  const pooled: Record<string, number[]> = { STCS: [], ASPC: [], STCS_ref: [], ASPC_ref: [] };
  const labelMeans: Record<string, number[]> = { STCS: [], ASPC: [], STCS_ref: [], ASPC_ref: [] };
  for (const label of labels) {
    const rows = input.rows.filter((r) => r.label === label);
    const defined = (pick: (r: LongitudinalRow) => number | null) => rows.map(pick).filter((v): v is number => v !== null);
    const series = { STCS: defined((r) => r.stcs), ASPC: defined((r) => r.aspc), STCS_ref: defined((r) => r.stcsRef), ASPC_ref: defined((r) => r.aspcRef) };
    addStatistics(perLabel, String(label), series);
    for (const key of Object.keys(pooled) as (keyof typeof series)[]) {
      pooled[key].push(...series[key]);
      const mean = describe(series[key]).mean;
      if (mean !== null) labelMeans[key].push(mean);
    }
  }
  return {
    annualized: input.annualized,
    session_pairs: new Set(input.rows.map((r) => `${r.subject}/${r.sessionA}/${r.sessionB}`)).size,
    skipped_subjects: input.skippedSubjects,
    foreground_mean: mapValues(labelMeans, (v) => describe(v).mean),
    foreground_median: mapValues(pooled, (v) => describe(v).median),
    foreground_std: mapValues(pooled, (v) => describe(v).std),
    mean: perLabel.mean,
    median: perLabel.median,
    std: perLabel.std,
  };
}
