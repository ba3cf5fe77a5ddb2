import type { Argv } from 'yargs';
import { join } from 'node:path';
import { z } from 'zod';
import { evaluateFolders, HD_DEFINITION, type LabelSelection } from '../src/metrics/evaluate.js';
import { SUMMARY_TOOL, writeEvaluation } from '../src/metrics/report.js';
import { ExitCode } from '../src/runtime/errors.js';
import type { Progress } from '../src/runtime/progress.js';
import { toolVersion } from '../src/runtime/version.js';
import { defaultThreads, threadsSchema } from '../src/runtime/threads.js';
import { commaList } from '../src/runtime/lists.js';
import type { LongisegCommand } from './command.js';
import { flag } from '../src/runtime/flags.js';
import { addSchemaOptions } from './schema-options.js';
import { globalSchema, resolveCommandOptions, type GlobalArgs } from './context.js';
import { formatEvaluationTable } from './evaluate-table.js';
import { EVALUATION_REPORT, reportOption } from '../src/report/options.js';

export const evaluateSchema = globalSchema
  .extend({
    pred: z.string().min(1).meta(flag('Folder of predicted label maps (BIDS derivative or flat, nnU-Net style)')),
    ref: z.string().min(1).meta(flag('Folder of reference label maps')),
    out: z
      .string()
      .min(1)
      .optional()
      .meta(flag('Where per_case.tsv, longitudinal.tsv and summary.json go', { defaultText: '--pred' })),
    labels: z
      .union([z.string().min(1), z.array(z.number().int().positive()).min(1)])
      .optional()
      .meta(
        flag('A dseg.tsv label table, or a list such as 1,2,3', {
          defaultText: 'dseg.tsv next to the references, else every label found',
        }),
      ),
    ignore_label: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta(flag('Reference voxels with this value are left out of every metric')),
    longitudinal: z
      .boolean()
      .default(false)
      .meta(flag('Also STCS and ASPC between every pair of sessions of a subject')),
    annualize: z
      .boolean()
      .default(false)
      .meta(flag('Divide ASPC by the years between sessions (from sub-*_sessions.tsv)')),
    hd_percentile: z
      .number()
      .gt(0)
      .max(100)
      .default(95)
      .meta(flag('Percentile of the surface distances; 100 gives the Hausdorff distance')),
    threads: threadsSchema.optional().meta(
      flag('Cases evaluated in parallel, 1 to 1024', {
        defaultText: 'SLURM_CPUS_PER_TASK, else one per CPU',
        alias: 'workers',
      }),
    ),
    resample: z
      .boolean()
      .default(false)
      .meta(flag('Resample predictions onto the reference grid (nearest neighbour) instead of refusing')),
    allow_missing: z
      .boolean()
      .default(false)
      .meta(flag('Evaluate the cases that have a prediction when some references have none')),
    ...reportOption,
  })
  .strict();

export function parseLabelSelection(value: string | number[] | undefined): LabelSelection {
  if (value === undefined) return { kind: 'auto' };
  if (Array.isArray(value)) return { kind: 'list', labels: value };
  if (/^\s*\d+(\s*,\s*\d+)*\s*$/.test(value)) return { kind: 'list', labels: commaList(value).map(Number) };
  return { kind: 'table', path: value };
}

export const evaluateCommand: LongisegCommand<Record<string, unknown>> = {
  command: 'evaluate',
  describe: 'Dice, IoU, HD95 and (--longitudinal) STCS and ASPC of a folder of predictions against references',
  builder: (yargs: Argv<GlobalArgs>) =>
    addSchemaOptions(yargs, evaluateSchema)
      .usage('$0 evaluate --pred DIR --ref DIR [options]\n\n' + `HD: ${HD_DEFINITION}`)

      .example(
        '$0 evaluate --pred derivatives/longiseg --ref derivatives/labels --longitudinal',
        'BIDS trees, with longitudinal statistics',
      )
      .example('$0 evaluate --pred predsTs --ref labelsTs --labels 1,2,3', 'flat folders paired by file name'),
  async run(argv, context) {
    const options = await resolveCommandOptions(evaluateSchema, argv);
    let progress: Progress | undefined;
    const evaluation = await evaluateFolders(
      {
        pred: options.pred,
        ref: options.ref,
        labels: parseLabelSelection(options.labels),
        ignoreLabel: options.ignore_label,
        longitudinal: options.longitudinal,
        annualize: options.annualize,
        hdPercentile: options.hd_percentile,
        workers: options.threads ?? defaultThreads().threads,
        resample: options.resample,
        allowMissing: options.allow_missing,
      },
      {
        signal: context.signal,
        onWarning: (message) => context.logger.warn(message),
        onStart: (cases) => (progress = context.progress('evaluate: cases', cases)),
        meta: {
          tool: SUMMARY_TOOL,
          version: toolVersion,
          date: new Date().toISOString(),
          command: context.commandLine,
        },
      },
    );
    progress?.succeed(`evaluated ${evaluation.cases.length} cases, ${evaluation.labels.length} labels`);
    const out = options.out ?? options.pred;
    const files = await writeEvaluation(out, evaluation);
    if (options.report) {
      // the report's libraries load only when a report is written
      const { writeEvaluateReport } = await import('../src/report/evaluate-report.js');
      const report = await writeEvaluateReport(join(out, EVALUATION_REPORT), evaluation, {
        pred: options.pred,
        ref: options.ref,
        logger: context.logger,
      });
      if (report) files.push(report);
    }
    process.stdout.write(formatEvaluationTable(evaluation));
    context.logger.info({ files }, `wrote ${files.join(', ')}`);
    return ExitCode.ok;
  },
};
