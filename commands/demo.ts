import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { Argv } from 'yargs';
import { z } from 'zod';
import {
  DEMO_METHODS,
  DEMO_SIZES,
  demoConfigs,
  demoPlan,
  demoSeeds,
  runFolder,
  type DemoCommand,
  type DemoSize,
} from '../src/demo/plan.js';
import {
  demoTable,
  formatMarkdownTable,
  seedComparison,
  type EvaluateSummary,
  type MethodResults,
} from '../src/demo/table.js';
import { writeFileAtomic } from '../src/runtime/atomic.js';
import { ExitCode, InterruptedError, LongisegError } from '../src/runtime/errors.js';
import { forEachAtOnce } from '../src/runtime/pool.js';
import type { Progress } from '../src/runtime/progress.js';
import type { LongisegCommand } from './command.js';
import { flag } from '../src/runtime/flags.js';
import { addSchemaOptions } from './schema-options.js';
import type { Convention } from '../src/report/slices.js';
import { conventionOption, EVALUATION_REPORT, REPORT, reportOption } from '../src/report/options.js';
import { globalSchema, resolveCommandOptions, type GlobalArgs, type RunContext } from './context.js';

export const demoSchema = globalSchema
  .extend({
    out: z
      .string()
      .min(1)
      .default('longiseg-demo')
      .meta(flag('Folder for everything the demo writes; rerunning continues where it stopped')),
    quick: z
      .boolean()
      .default(false)
      .meta(
        flag(
          'Fewer subjects and training steps and one finetuning seed instead of five: under 5 minutes on 2 cores instead of under 15',
        ),
      ),
    ...reportOption,
    ...conventionOption,
  })
  .strict();

/** The stages whose reports show slices take the demo's --convention. */
function withConvention(stage: string, convention: Convention): string[] {
  return stage === 'preprocess' || stage === 'predict' ? ['--convention', convention] : [];
}

/** report.html of the demo: Table 1 as a figure, one test subject segmented by both arms, every stage's report. */
async function writeReportPage(
  out: string,
  size: DemoSize,
  seeds: number[],
  results: MethodResults[],
  verdict: string,
  convention: Convention,
  context: RunContext,
): Promise<string | undefined> {
  const { subjectSegmentations, writeDemoReport } = await import('../src/report/demo-report.js');
  const runs = seeds.flatMap((seed) => DEMO_METHODS.map((m) => ({ ...m, seed })));
  const links = [
    { title: 'preprocess', href: join('registered', REPORT) },
    { title: 'pretrain', href: join('pretrain', REPORT) },
    ...runs.flatMap(({ key, title, seed }) =>
      [
        ['finetune', REPORT],
        ['predict', REPORT],
        ['evaluate', EVALUATION_REPORT],
      ].map(([stage, file]) => ({
        title: `${stage}: ${title}, seed ${seed}`,
        href: join(relative(out, runFolder(out, stage, key, seed)), file),
      })),
    ),
  ];
  const registered = join(out, 'registered');
  const segmentations = await subjectSegmentations(
    registered,
    size.test[0],
    [
      { title: 'reference', folder: join(registered, 'derivatives', 'labels') },
      ...DEMO_METHODS.map((m) => ({
        title: `${m.title}, seed ${seeds[0]}`,
        folder: runFolder(out, 'predict', m.key, seeds[0]),
      })),
    ],
    convention,
  ).catch((error: Error) => {
    context.logger.warn(`demo report: no segmentations of sub-${size.test[0]} (${error.message})`);
    return [];
  });
  return writeDemoReport(
    out,
    {
      table: demoTable(results),
      verdict,
      arms: results.map((r) => ({
        title: r.title,
        dice: r.summaries.map((s) => s.foreground_median.Dice ?? null),
        stcs: r.summaries.map((s) => s.longitudinal?.foreground_median.STCS ?? null),
      })),
      links,
      segmentations,
      convention,
      command: context.commandLine,
    },
    context.logger,
  );
}

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

/** A failed stage of the demo, with the exit code of the command that failed. */
class DemoStageError extends LongisegError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Runs one longiseg command as a child process, its JSON log lines feeding the demo's progress line. */
async function runStep({ args, seed }: DemoCommand, progress: Progress, context: RunContext): Promise<void> {
  const child = execa(process.execPath, [CLI, ...args, '--seed', String(seed), '--log-format', 'json'], {
    reject: false,
    all: true,
    cancelSignal: context.signal,
    gracefulCancel: false,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: 20_000,
    stdin: 'ignore',
  });
  const errors: string[] = [];
  child.stderr?.setEncoding('utf8');
  let buffer = '';
  child.stderr?.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as { level: number; msg: string };
        if (entry.level >= 50) errors.push(entry.msg);
        else if (entry.level >= 40) context.logger.warn(`${args[0]}: ${entry.msg}`);
        progress.advance(0, entry.msg.slice(0, 100));
      } catch {
        errors.push(line);
      }
    }
  });
  const result = await child;
  progress.advance(1);
  if (result.isCanceled || context.signal.aborted) throw new InterruptedError();
  if (result.exitCode !== 0) {
    throw new DemoStageError(
      `demo: longiseg ${args.join(' ')} failed (exit ${result.exitCode ?? result.signal}):\n  ${errors.slice(-5).join('\n  ') || result.all?.slice(-2000)}`,
      result.exitCode ?? ExitCode.internal,
    );
  }
}

/** longiseg expects `--resume` (and no new config) for a training folder holding a run. */
function resumable(args: string[]): string[] {
  const out = args[args.indexOf('--out') + 1];
  if (!['pretrain', 'finetune'].includes(args[0]) || !existsSync(join(out, 'latest.safetensors'))) return args;
  return [args[0], '--resume', '--data', args[args.indexOf('--data') + 1], '--out', out];
}

/** What the demo's numbers can and cannot say, printed under its table. */
const DEMO_SCOPE =
  'The demo segments the tissue classes (cortex, white matter, CSF) at 3 mm: the small deep structures of\n' +
  'synth --labels structures need about 1,200 finetuning steps, beyond this budget (docs/training.md).\n';
const ONE_SEED =
  'One seed: the difference between the two rows is not tested against the spread over seeds (the full demo is).\n';

export const demoCommand: LongisegCommand<Record<string, unknown>> = {
  command: 'demo',
  describe:
    'The whole chain on a synthetic infant study (synth → preprocess → pretrain → finetune → predict → evaluate), ending in a Table 1 style comparison',
  builder: (yargs: Argv<GlobalArgs>) =>
    addSchemaOptions(yargs, demoSchema)
      .example('$0 demo', 'the full demo in ./longiseg-demo')
      .example('$0 demo --quick --out /tmp/demo', 'a smoke test of the installation'),
  async run(argv, context) {
    const options = await resolveCommandOptions(demoSchema, argv);
    const size = DEMO_SIZES[options.quick ? 'quick' : 'full'];
    await mkdir(options.out, { recursive: true });
    for (const [kind, text] of Object.entries(demoConfigs(size))) {
      const file = join(options.out, `${kind}.yaml`);
      if (!existsSync(file)) await writeFileAtomic(file, text);
    }
    const stages = demoPlan(options.out, size, options.seed);
    const started = Date.now();
    for (const [index, stage] of stages.entries()) {
      const label = `demo ${index + 1}/${stages.length} ${stage.name}`;
      const marker = join(options.out, '.demo', `${stage.name}.done`);
      if (existsSync(marker)) {
        context.logger.info(`${label}: done before, skipped`);
        continue;
      }
      // every stage but synth writes its report unless the demo was told not to
      const reports =
        stage.name === 'synth' ? [] : options.report ? withConvention(stage.name, options.convention) : ['--no-report'];
      const commands = stage.commands.map((command) => ({
        ...command,
        args: [...resumable(command.args), ...reports],
      }));
      if (stage.name === 'synth' && existsSync(join(options.out, 'study'))) commands[0].args.push('--overwrite');
      const progress = context.progress(label, commands.length);
      // two at a time, a thread each: the two cores of a laptop
      await forEachAtOnce(commands, 2, (command) => runStep(command, progress, context));
      await writeFileAtomic(marker, `${new Date().toISOString()}\n`);
      progress.succeed(`${label}: done (${Math.round((Date.now() - started) / 1000)} s so far)`);
    }
    const seeds = demoSeeds(size, options.seed);
    const results: MethodResults[] = DEMO_METHODS.map((m) => ({
      title: m.title,
      summaries: seeds.map(
        (seed) =>
          JSON.parse(
            readFileSync(join(runFolder(options.out, 'evaluate', m.key, seed), 'summary.json'), 'utf8'),
          ) as EvaluateSummary,
      ),
    }));
    const table = formatMarkdownTable(demoTable(results));
    const spread = seeds.length > 1 ? `${seedComparison(results[1], results[0]).join('\n')}\n` : ONE_SEED;
    const cells =
      seeds.length > 1
        ? `medians over the test sessions, mean ± SD over ${seeds.length} finetuning seeds`
        : 'medians over the test sessions';
    const report = `One-shot segmentation of the synthetic infant test subjects (${cells}):\n\n${table}\n\n${spread}\n${DEMO_SCOPE}`;
    await writeFileAtomic(join(options.out, 'table.md'), report);
    const page = options.report
      ? await writeReportPage(options.out, size, seeds, results, spread, options.convention, context)
      : undefined;
    process.stdout.write(`\n${report}(${[join(options.out, 'table.md'), page].filter(Boolean).join(', ')})\n`);
    return ExitCode.ok;
  },
};
