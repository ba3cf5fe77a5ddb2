import { existsSync } from 'node:fs';
import type { TopLevelSpec } from 'vega-lite';
import { readTsv } from '../io/tsv.js';
import { readSafetensors } from '../model/safetensors.js';
import { writeReport, type ReportLogger } from './write-report.js';
import { chartSvg } from './charts.js';
import { figure, htmlTable, paragraph, renderPage, section } from './html.js';

export interface TrainingReportInputs {
  kind: 'pretrain' | 'finetune';
  /** The rows of train_log.tsv. */
  log: Record<string, string>[];
  bestStep: number | null;
  /** Validation Dice per class at the best checkpoint, with the class names. */
  bestPerClass?: { label: number; name: string; dice: number }[];
  command: string;
}

/** Steps per point of a curve at most: longer runs are averaged over bins of steps. */
const POINTS_PER_CURVE = 400;
const FIXED_COLUMNS = new Set(['step', 'phase', 'lr', 'seconds']);

export async function renderTrainingReport(inputs: TrainingReportInputs): Promise<string> {
  const train = inputs.log.filter((row) => row.phase === 'train');
  const validation = inputs.log.filter((row) => row.phase === 'validation');
  const columns = Object.keys(inputs.log[0] ?? {});
  const trainTerms = columns.filter((c) => !FIXED_COLUMNS.has(c) && !c.startsWith('val_'));
  const validationTerms = columns.filter((c) => c.startsWith('val_'));
  const best = inputs.bestStep === null ? 'no validation yet' : `best checkpoint at step ${inputs.bestStep}`;
  const sections = [
    section(
      'Training losses',
      figure(
        await chartSvg(curves(binned(train, trainTerms), inputs.bestStep)),
        `Each loss term over the steps (${train.length} steps, averaged over bins of ${binSize(train.length)}); ${best} (dashed)`,
      ),
    ),
  ];
  if (validation.length > 0)
    sections.push(
      section(
        'Validation',
        figure(
          await chartSvg(curves(pointsOf(validation, validationTerms), inputs.bestStep, true)),
          `Validation measures at each validation; ${best} (dashed)`,
        ),
      ),
    );
  sections.push(
    section(
      'Learning rate',
      figure(await chartSvg(curves(binned(train, ['lr']), null)), 'Learning rate over the steps'),
    ),
  );
  if (inputs.bestPerClass && inputs.bestPerClass.length > 0)
    sections.push(
      section(
        'Validation Dice per class at the best checkpoint',
        htmlTable(
          ['label', 'name', 'Dice'],
          inputs.bestPerClass.map((c) => [String(c.label), c.name, c.dice]),
        ),
      ),
    );
  const seconds = train.reduce((sum, row) => sum + Number(row.seconds), 0);
  sections.push(
    section('Run', paragraph(`${train.length} steps logged, ${(seconds / 60).toFixed(1)} min of steps; ${best}.`)),
  );
  return renderPage({ title: `longiseg ${inputs.kind}`, lead: inputs.command, sections });
}

interface Point {
  step: number;
  term: string;
  value: number;
}

function binSize(steps: number): number {
  return Math.max(1, Math.ceil(steps / POINTS_PER_CURVE));
}

/** The mean of each term over consecutive bins of steps, plotted at the bin's last step. */
function binned(rows: Record<string, string>[], terms: string[]): Point[] {
  const size = binSize(rows.length);
  const points: Point[] = [];
  for (let start = 0; start < rows.length; start += size) {
    const bin = rows.slice(start, start + size);
    for (const term of terms) {
      const values = bin.map((row) => Number(row[term])).filter(Number.isFinite);
      if (values.length > 0)
        points.push({
          step: Number(bin[bin.length - 1].step),
          term,
          value: values.reduce((a, b) => a + b) / values.length,
        });
    }
  }
  return points;
}

function pointsOf(rows: Record<string, string>[], terms: string[]): Point[] {
  return rows.flatMap((row) =>
    terms.flatMap((term) =>
      Number.isFinite(Number(row[term])) && row[term] !== ''
        ? [{ step: Number(row.step), term, value: Number(row[term]) }]
        : [],
    ),
  );
}

/** One panel per term, each with its own scale; a dashed rule at the best step. */
function curves(points: Point[], bestStep: number | null, withPoints = false): TopLevelSpec {
  const line = { mark: { type: 'line' as const, point: withPoints, strokeWidth: 1.5 } };
  const rule =
    bestStep === null
      ? []
      : [
          {
            mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#b00020' },
            encoding: { x: { datum: bestStep } },
          },
        ];
  return {
    data: { values: points },
    facet: { field: 'term', type: 'nominal', sort: null, title: null },
    columns: 3,
    spec: {
      width: 300,
      height: 150,
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
      },
      layer: [line, ...rule],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export interface TrainingReportFiles {
  log: string;
  /** best.safetensors, whose metadata holds the validation Dice per class of a finetuning run. */
  best: string;
}

/** report.html of a training run, from its log and best checkpoint. */
export async function writeTrainingReport(
  path: string,
  files: TrainingReportFiles,
  run: { kind: TrainingReportInputs['kind']; bestStep: number | null; command: string; logger: ReportLogger },
): Promise<string | undefined> {
  return writeReport(
    path,
    async () =>
      renderTrainingReport({
        kind: run.kind,
        log: await readTsv(files.log),
        bestStep: run.bestStep,
        bestPerClass: existsSync(files.best) ? await bestPerClass(files.best) : undefined,
        command: run.command,
      }),
    run.logger,
  );
}

async function bestPerClass(path: string): Promise<TrainingReportInputs['bestPerClass']> {
  const { metadata } = await readSafetensors(path);
  if (!metadata.validation) return undefined;
  const validation = JSON.parse(metadata.validation) as { per_class?: Record<string, number> };
  const names = (JSON.parse(metadata.info ?? '{}') as { labels?: Record<string, string> }).labels ?? {};
  return Object.entries(validation.per_class ?? {}).map(([label, dice]) => ({
    label: Number(label),
    name: names[label] ?? `label ${label}`,
    dice,
  }));
}
