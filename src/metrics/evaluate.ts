import { availableParallelism } from 'node:os';
import { datasetRoots, readSessionAges } from '../io/bids.js';
import { findLabelTable, readLabelTable, type LabelTable } from '../io/labels.js';
import { InputError, UsageError } from '../runtime/errors.js';
import { runPool } from '../runtime/pool.js';
import type { ProgressSink } from '../runtime/progress.js';
import { evaluateGroup, type CaseResult, type GroupResult, type GroupTask } from './group.js';
import { aspc } from './longitudinal.js';
import { pairFolders, type CasePair } from './pairing.js';
import { absentLabel, buildSummary, type EvaluationSummary, type LongitudinalRow } from './summary.js';

export type LabelSelection = { kind: 'list'; labels: number[] } | { kind: 'table'; path: string } | { kind: 'auto' };

export interface EvaluateOptions {
  pred: string;
  ref: string;
  labels: LabelSelection;
  ignoreLabel?: number;
  longitudinal: boolean;
  annualize: boolean;
  hdPercentile: number;
  workers?: number;
  resample: boolean;
  allowMissing: boolean;
}

export interface EvaluateHooks {
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
  /** Called once the number of cases is known. */
  onStart?: (cases: number) => ProgressSink;
  meta?: Record<string, unknown>;
}

export interface Evaluation {
  cases: CaseResult[];
  labels: number[];
  table: LabelTable | undefined;
  hdKey: string;
  longitudinalRows?: LongitudinalRow[];
  summary: EvaluationSummary;
}

export const HD_DEFINITION =
  'surface = mask minus its 6-connected erosion (outside the image is background); directed distances in mm from an exact ' +
  'Euclidean distance transform with the reference voxel spacing; P-th percentile of each directed set with linear interpolation; ' +
  'HD = max of the two. Both masks empty: 0 (both_empty), left out of means. One mask empty: null (pred_empty/ref_empty) per case, ' +
  'the reference volume diagonal in means.';

export async function evaluateFolders(options: EvaluateOptions, hooks: EvaluateHooks = {}): Promise<Evaluation> {
  const warn = hooks.onWarning ?? (() => {});
  const pairing = await pairFolders(options.pred, options.ref);
  if (pairing.predOnly.length > 0)
    warn(
      `${pairing.predOnly.length} prediction(s) have no reference and are not evaluated: ${pairing.predOnly.join(', ')}`,
    );
  if (pairing.refOnly.length > 0) {
    const list = pairing.refOnly.join(', ');
    if (!options.allowMissing)
      throw new InputError(
        options.pred,
        `has no prediction for ${pairing.refOnly.length} reference(s): ${list} (pass --allow-missing to evaluate the others)`,
      );
    warn(`${pairing.refOnly.length} reference(s) have no prediction and are skipped (--allow-missing): ${list}`);
  }
  if (pairing.cases.length === 0)
    throw new InputError(options.pred, `no prediction matches a reference in ${options.ref}`);
  if (options.longitudinal && pairing.mode !== 'bids') {
    throw new UsageError(
      '--longitudinal needs BIDS file names (sub-<label>_ses-<label>_..._dseg.nii.gz) to group sessions by subject',
    );
  }

  const { table, explicit } = await resolveLabelTable(
    options,
    pairing.cases.map((c) => c.refFile),
  );
  const groups = options.longitudinal
    ? await groupBySubject(pairing.cases, options, warn)
    : pairing.cases.map((c) => ({ cases: [c], ages: undefined }));
  const tasks: GroupTask[] = groups.map((g) => ({
    cases: g.cases,
    longitudinal: options.longitudinal && g.cases.length > 1,
    options: {
      labels: explicit,
      ignoreLabel: options.ignoreLabel,
      hdPercentile: options.hdPercentile,
      resample: options.resample,
    },
  }));
  const progress = hooks.onStart?.(pairing.cases.length);
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), tasks.length));
  const results = await runPool<GroupTask, GroupResult>(tasks, evaluateGroup, {
    workers,
    workerUrl: new URL('./worker.js', import.meta.url),
    signal: hooks.signal,
    onResult: (result) => progress?.advance(result.cases.length),
  });
  const cases = results.flatMap((r) => r.cases);
  for (const c of cases)
    if (c.resampled) warn(`${c.predFile} was resampled onto the grid of ${c.refFile} (--resample)`);

  const labels = explicit ?? chooseLabels(cases, table, options.ignoreLabel, warn);
  for (const c of cases)
    c.metrics = labels.map((label) => c.metrics.find((m) => m.label === label) ?? absentLabel(label));

  const hdKey = `HD${options.hdPercentile}`;
  let longitudinalRows: LongitudinalRow[] | undefined;
  if (options.longitudinal) {
    longitudinalRows = longitudinalTable(results, groups, labels, options.annualize);
  }
  const summary = buildSummary({
    cases,
    labels,
    table,
    hdKey,
    longitudinal: longitudinalRows
      ? {
          rows: longitudinalRows,
          annualized: options.annualize,
          skippedSubjects: groups.filter((g) => g.cases.length < 2).map((g) => g.cases[0].subject),
        }
      : undefined,
    meta: {
      ...hooks.meta,
      inputs: {
        pred: options.pred,
        ref: options.ref,
        pairing: pairing.mode,
        label_table: options.labels.kind === 'table' ? options.labels.path : null,
      },
      options: {
        hd_percentile: options.hdPercentile,
        ignore_label: options.ignoreLabel ?? null,
        resample: options.resample,
        longitudinal: options.longitudinal,
        annualize: options.annualize,
      },
      definitions: {
        Dice: '2TP/(2TP+FP+FN); null when TP+FP+FN = 0 (both_empty), left out of means',
        IoU: 'TP/(TP+FP+FN); null when TP+FP+FN = 0',
        [hdKey]: HD_DEFINITION.replace('P-th', `${options.hdPercentile}th`),
        STCS: 'Dice between the label maps of two sessions of one subject in one registered space',
        ASPC: `100·|Vb − Va| / (0.5·(Va + Vb)), volumes in mm³${options.annualize ? ', divided by the years between the sessions' : ''}`,
        aggregation:
          'mean/median/std (population) per label over cases; foreground_mean = mean of the per-label means (nnU-Net); foreground_median and foreground_std over all (case, label) values',
      },
    },
  });
  return { cases, labels, table, hdKey, longitudinalRows, summary };
}

async function resolveLabelTable(
  options: EvaluateOptions,
  refFiles: string[],
): Promise<{ table?: LabelTable; explicit?: number[] }> {
  if (options.labels.kind === 'list')
    return { explicit: options.labels.labels.filter((l) => l !== options.ignoreLabel) };
  const path = options.labels.kind === 'table' ? options.labels.path : findLabelTable(options.ref, refFiles);
  return { table: path ? await readLabelTable(path) : undefined };
}

/** Table labels (background excluded) and every label found; labels outside the table are warned about. */
function chooseLabels(
  cases: CaseResult[],
  table: LabelTable | undefined,
  ignoreLabel: number | undefined,
  warn: (m: string) => void,
): number[] {
  const inRefs = new Set<number>();
  const inPreds = new Set<number>();
  for (const c of cases) {
    for (const m of c.metrics) {
      if (m.nRef > 0) inRefs.add(m.label);
      if (m.nPred > 0) inPreds.add(m.label);
    }
  }
  const labels = new Set<number>([...(table?.keys() ?? [])].filter((l) => l > 0));
  const known = table ? labels : inRefs;
  const strays = [...inPreds, ...inRefs].filter((l) => !known.has(l));
  if (strays.length > 0) {
    const where = table ? 'are not in the label table' : 'appear in predictions but in no reference';
    warn(`labels ${[...new Set(strays)].sort((a, b) => a - b).join(', ')} ${where}; evaluated anyway`);
  }
  for (const l of [...inRefs, ...inPreds]) labels.add(l);
  labels.delete(0);
  if (ignoreLabel !== undefined) labels.delete(ignoreLabel);
  return [...labels].sort((a, b) => a - b);
}

interface SubjectGroup {
  cases: CasePair[];
  ages: Map<string, number> | undefined;
}

/** All sessions of each subject, ordered by age when the sessions table gives one, else by session label. */
async function groupBySubject(
  cases: CasePair[],
  options: EvaluateOptions,
  warn: (m: string) => void,
): Promise<SubjectGroup[]> {
  const bySubject = new Map<string, CasePair[]>();
  for (const c of cases) bySubject.set(c.subject, [...(bySubject.get(c.subject) ?? []), c]);
  const roots = [...new Set([...datasetRoots(options.ref), ...datasetRoots(options.pred)])];
  const groups: SubjectGroup[] = [];
  for (const [subject, sessions] of bySubject) {
    if (sessions.length < 2) warn(`sub-${subject} has one session; it has no longitudinal statistics`);
    const found = await readSessionAges(subject, roots);
    const ages = found?.ages;
    if (options.annualize && sessions.length > 1) {
      if (!found)
        throw new InputError(
          undefined,
          `--annualize needs sub-${subject}/sub-${subject}_sessions.tsv with age, age_months or acq_time; none found under ${roots.join(', ')}`,
        );
      const missing = sessions.filter((s) => !ages!.has(s.session)).map((s) => `ses-${s.session}`);
      if (missing.length > 0)
        throw new InputError(
          found.path,
          `gives no age (age, age_months or acq_time) for ${missing.join(', ')}, which --annualize needs`,
        );
    }
    const ordered = [...sessions].sort((a, b) => {
      const [x, y] = [ages?.get(a.session), ages?.get(b.session)];
      return x !== undefined && y !== undefined && x !== y ? x - y : a.session.localeCompare(b.session);
    });
    groups.push({ cases: ordered, ages });
  }
  return groups;
}

function longitudinalTable(
  results: GroupResult[],
  groups: SubjectGroup[],
  labels: number[],
  annualize: boolean,
): LongitudinalRow[] {
  const rows: LongitudinalRow[] = [];
  results.forEach((result, g) => {
    const { ages } = groups[g];
    const bySession = new Map(result.cases.map((c) => [c.session, c]));
    for (const pair of result.pairs) {
      const a = bySession.get(pair.sessionA)!;
      const b = bySession.get(pair.sessionB)!;
      const [ageA, ageB] = [ages?.get(pair.sessionA), ages?.get(pair.sessionB)];
      const years = ageA !== undefined && ageB !== undefined ? Math.abs(ageB - ageA) : null;
      const stcs = new Map(pair.stcs);
      const stcsRef = new Map(pair.stcsRef);
      for (const label of labels) {
        const [ma, mb] = [a.metrics.find((m) => m.label === label)!, b.metrics.find((m) => m.label === label)!];
        const rate = (value: number | null) => (value === null || !annualize ? value : years ? value / years : null);
        rows.push({
          subject: pair.subject,
          sessionA: pair.sessionA,
          sessionB: pair.sessionB,
          label,
          stcs: stcs.get(label) ?? null,
          aspc: rate(aspc(ma.volPredMm3, mb.volPredMm3)),
          stcsRef: stcsRef.get(label) ?? null,
          aspcRef: rate(aspc(ma.volRefMm3, mb.volRefMm3)),
          years,
        });
      }
    }
  });
  return rows;
}
