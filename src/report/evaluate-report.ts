import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { datasetRoots, readSessionAges } from '../io/bids.js';
import { caseAnchor } from './case-anchor.js';
import { REPORT } from './options.js';
import { writeReport, type ReportLogger } from './write-report.js';
import type { Evaluation } from '../metrics/evaluate.js';
import type { CaseResult } from '../metrics/group.js';
import { chartSvg } from './charts.js';
import { escapeHtml, figure, formatCell, htmlTable, paragraph, renderPage, section } from './html.js';

export interface EvaluateReportInputs {
  evaluation: Evaluation;
  /** Age in years of each session, by subject, where a sessions table gives it. */
  ages: Map<string, Map<string, number>>;
  /** Link to a case's montage (the predict report next to the predictions), when there is one. */
  montageLink?: (subject: string, session: string) => string | undefined;
  command: string;
}

/** Session pairs named along the axis of the STCS and ASPC plots; more are drawn unnamed. */
const MAX_NAMED_PAIRS = 60;
/** Cases listed first in the table of worst cases. */
const WORST_CASES = 20;

export async function renderEvaluateReport(inputs: EvaluateReportInputs): Promise<string> {
  const { evaluation } = inputs;
  const name = (label: number) => evaluation.table?.get(label) ?? `label ${label}`;
  const hd = evaluation.hdKey;
  const sections = [
    section('Summary', summaryTable(evaluation, name)),
    section(
      'Per structure',
      [
        figure(await chartSvg(boxPlot(evaluation, name, 'Dice')), 'Dice per structure over the cases'),
        figure(await chartSvg(boxPlot(evaluation, name, hd)), `${hd} (mm) per structure over the cases`),
      ].join('\n'),
    ),
  ];
  if (evaluation.longitudinalRows && evaluation.longitudinalRows.length > 0)
    sections.push(section('Between sessions', await longitudinalFigures(evaluation, name)));
  sections.push(section('Volumes over age', await trajectories(evaluation, name, inputs.ages)));
  sections.push(section('Worst cases first', worstCases(evaluation, name, inputs.montageLink)));
  return renderPage({
    title: 'longiseg evaluate',
    lead: `${evaluation.cases.length} cases, ${evaluation.labels.length} labels · ${inputs.command}`,
    sections,
  });
}

function summaryTable(evaluation: Evaluation, name: (label: number) => string): string {
  const { summary, hdKey } = evaluation;
  const longitudinal = summary.longitudinal;
  const columns = ['label', 'name', 'Dice median', 'Dice mean', 'IoU mean', `${hdKey} median`, `${hdKey} mean`];
  if (longitudinal) columns.push('STCS mean', 'ASPC mean %');
  const row = (
    key: string,
    title: string,
    median: typeof summary.foreground_median,
    mean: typeof summary.foreground_mean,
  ) => {
    const cells: (string | number | null)[] = [
      key,
      title,
      median.Dice,
      mean.Dice,
      mean.IoU,
      median[hdKey],
      mean[hdKey],
    ];
    if (longitudinal) {
      const source = key === 'all' ? longitudinal.foreground_mean : longitudinal.mean[key];
      cells.push(source?.STCS ?? null, source?.ASPC ?? null);
    }
    return cells;
  };
  const rows = evaluation.labels.map((label) =>
    row(String(label), name(label), summary.median[String(label)], summary.mean[String(label)]),
  );
  rows.push(row('all', 'foreground', summary.foreground_median, summary.foreground_mean));
  return htmlTable(columns, rows);
}

function caseRows(evaluation: Evaluation, name: (label: number) => string, measure: string) {
  return evaluation.cases.flatMap((c) =>
    c.metrics.flatMap((m) => {
      const value = measure === 'Dice' ? m.dice : m.hd;
      return value === null || (measure !== 'Dice' && m.hdStatus !== 'ok')
        ? []
        : [{ structure: name(m.label), value, case: caseAnchor(c.subject, c.session) }];
    }),
  );
}

function boxPlot(evaluation: Evaluation, name: (label: number) => string, measure: string): TopLevelSpec {
  return {
    width: { step: 34 },
    height: 220,
    data: { values: caseRows(evaluation, name, measure) },
    mark: { type: 'boxplot', extent: 1.5 },
    encoding: {
      x: {
        field: 'structure',
        type: 'nominal',
        sort: evaluation.labels.map(name),
        axis: { labelAngle: -45 },
        title: null,
      },
      y: { field: 'value', type: 'quantitative', title: measure === 'Dice' ? 'Dice' : `${measure} (mm)` },
    },
  };
}

async function longitudinalFigures(evaluation: Evaluation, name: (label: number) => string): Promise<string> {
  const rows = evaluation.longitudinalRows!.map((r) => ({
    pair: `sub-${r.subject} ${r.sessionA}→${r.sessionB}`,
    structure: name(r.label),
    STCS: r.stcs,
    ASPC: r.aspc,
  }));
  const pairs = new Set(rows.map((r) => r.pair)).size;
  // a column per pair while they fit; beyond, a fixed width, the pair named by the tooltip
  const many = pairs > MAX_NAMED_PAIRS;
  const chart = (measure: 'STCS' | 'ASPC'): TopLevelSpec => ({
    width: many ? 900 : { step: 16 },
    height: 200,
    data: { values: rows.filter((r) => r[measure] !== null) },
    mark: { type: 'point', filled: true, size: 30 },
    encoding: {
      x: {
        field: 'pair',
        type: 'nominal',
        sort: null,
        axis: many ? { labels: false, ticks: false } : { labelAngle: -60 },
        title: `session pair (${pairs})`,
      },
      y: { field: measure, type: 'quantitative', title: measure === 'ASPC' ? 'ASPC (%)' : 'STCS' },
      color: {
        field: 'structure',
        type: 'nominal',
        sort: evaluation.labels.map(name),
        scale: { scheme: 'category20' },
      },
      tooltip: [{ field: 'pair' }, { field: 'structure' }, { field: measure }],
    },
  });
  return [
    figure(await chartSvg(chart('STCS')), 'STCS of each structure between the two sessions of a pair'),
    figure(await chartSvg(chart('ASPC')), 'ASPC (absolute symmetrized percent change) of each structure per pair'),
  ].join('\n');
}

async function trajectories(
  evaluation: Evaluation,
  name: (label: number) => string,
  ages: Map<string, Map<string, number>>,
): Promise<string> {
  const subjects = new Set(evaluation.cases.map((c) => c.subject));
  const aged = [...subjects].every((s) =>
    evaluation.cases.every((c) => c.subject !== s || ages.get(s)?.has(c.session)),
  );
  const when = new Map(
    evaluation.cases.map((c) => [c, aged ? ages.get(c.subject)!.get(c.session)! : sessionRank(evaluation, c)]),
  );
  const values = evaluation.cases.flatMap((c) =>
    c.metrics.flatMap((m) =>
      (['prediction', 'reference'] as const).map((source) => ({
        subject: `sub-${c.subject}`,
        structure: name(m.label),
        when: when.get(c),
        mL: (source === 'prediction' ? m.volPredMm3 : m.volRefMm3) / 1000,
        source,
      })),
    ),
  );
  const spec: TopLevelSpec = {
    data: { values },
    facet: { field: 'structure', type: 'nominal', sort: evaluation.labels.map(name), title: null },
    columns: 5,
    spec: {
      width: 150,
      height: 110,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'when', type: 'quantitative', title: aged ? 'age (years)' : 'session', scale: { zero: false } },
        y: { field: 'mL', type: 'quantitative', title: 'volume (mL)', scale: { zero: false } },
        color: { field: 'subject', type: 'nominal' },
        strokeDash: { field: 'source', type: 'nominal', title: null },
        detail: { field: 'source' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
  const note = aged ? '' : paragraph('No sessions table gives every age, so sessions are shown in their order.');
  return `${note}${figure(await chartSvg(spec), 'Volume of each structure per subject: prediction (solid) and reference (dashed)')}`;
}

function sessionRank(evaluation: Evaluation, c: CaseResult): number {
  const sessions = evaluation.cases.filter((o) => o.subject === c.subject).map((o) => o.session);
  return [...new Set(sessions)].sort().indexOf(c.session) + 1;
}

function worstCases(
  evaluation: Evaluation,
  name: (label: number) => string,
  montageLink: EvaluateReportInputs['montageLink'],
): string {
  const scored = evaluation.cases.map((c) => {
    const dice = c.metrics.flatMap((m) => (m.dice === null ? [] : [m.dice]));
    const worst = c.metrics.filter((m) => m.dice !== null).sort((a, b) => a.dice! - b.dice!)[0];
    return { c, mean: dice.length ? dice.reduce((a, b) => a + b, 0) / dice.length : null, worst };
  });
  scored.sort((a, b) => (a.mean ?? -1) - (b.mean ?? -1));
  const rows = scored.slice(0, WORST_CASES).map(({ c, mean, worst }) => {
    const link = montageLink?.(c.subject, c.session);
    const label = escapeHtml(caseAnchor(c.subject, c.session));
    return [
      link ? `<a href="${escapeHtml(link)}">${label}</a>` : label,
      formatCell(mean),
      worst ? escapeHtml(name(worst.label)) : '–',
      formatCell(worst?.dice ?? null),
    ];
  });
  const shown = Math.min(WORST_CASES, scored.length);
  return (
    paragraph(`The ${shown} cases of lowest mean Dice over the labels, of ${scored.length}.`) +
    htmlTable(['case', 'mean Dice', 'worst structure', 'its Dice'], rows, { raw: true })
  );
}

/**
 * report.html of an evaluation: the ages come from the sessions tables of the two folders, the
 * montage links from a predict report next to the predictions.
 */
export async function writeEvaluateReport(
  path: string,
  evaluation: Evaluation,
  options: { pred: string; ref: string; logger: ReportLogger },
): Promise<string | undefined> {
  return writeReport(
    path,
    async () => {
      const roots = [...new Set([...datasetRoots(options.ref), ...datasetRoots(options.pred)])];
      const ages = new Map<string, Map<string, number>>();
      for (const subject of new Set(evaluation.cases.map((c) => c.subject))) {
        const found = await readSessionAges(subject, roots);
        if (found) ages.set(subject, found.ages);
      }
      const predictReport = join(options.pred, REPORT);
      const montages = existsSync(predictReport) ? relative(dirname(path), predictReport) : undefined;
      return renderEvaluateReport({
        evaluation,
        ages,
        montageLink: montages ? (subject, session) => `${montages}#${caseAnchor(subject, session)}` : undefined,
        command: String(evaluation.summary.meta.command ?? 'longiseg evaluate'),
      });
    },
    options.logger,
  );
}
