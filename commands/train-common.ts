import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { stringify as toYaml } from 'yaml';
import { z } from 'zod';
import { initBackend } from '../src/engine/backend.js';
import { computeThreads } from '../src/engine/wasm-kernels.js';
import { flagValues, readConfigFile, resolveLayers, type ConfigObject } from '../src/runtime/config.js';
import { removeOrphanTemporaries, writeFileAtomic } from '../src/runtime/atomic.js';
import { ExitCode, UsageError } from '../src/runtime/errors.js';
import { Random } from '../src/runtime/random.js';
import { threadsOption } from '../src/runtime/threads.js';
import { constantSteps, PRESETS, storedConfig, type TrainingConfig } from '../src/train/config.js';
import {
  BEST,
  CONFIG,
  LATEST,
  LOG,
  runTraining,
  storedLoopState,
  type LoopState,
  type TrainingTask,
} from '../src/train/loop.js';
import { parseDuration } from '../src/train/schedule.js';
import { prepareStudy, type PreparedStudy } from '../src/train/study-setup.js';
import { flag } from '../src/runtime/flags.js';
import type { RunContext, GlobalArgs } from './context.js';
import { addSchemaOptions } from './schema-options.js';
import { REPORT, reportOption } from '../src/report/options.js';

export type Kind = 'pretrain' | 'finetune';

/** The flags of a training run that are no config keys. */
export const runFlagsSchema = z.object({
  max_steps: z
    .number()
    .optional()
    .meta(flag('Stop after this many steps in all (the schedule still spans the configured steps)')),
  resume: z
    .boolean()
    .optional()
    .meta(flag('Continue the run in --out from latest.safetensors, exactly where it stopped')),
  time_limit: z
    .string()
    .optional()
    .meta(flag('Stop cleanly (latest saved) before this wall-clock budget: 2h, 90m, 1:30:00')),
  threads: z
    .number()
    .optional()
    .meta(
      flag('Threads of the compute kernels, 1 to 1024; results do not depend on it', {
        defaultText: 'SLURM_CPUS_PER_TASK, else one per CPU',
      }),
    ),
  ...reportOption,
});

/** The flags of a training command: the config keys that are flags, then the run's own. */
export function addTrainingOptions<T>(yargs: Argv<T>, kind: Kind, schema: z.ZodObject): Argv<T> {
  return addSchemaOptions(addSchemaOptions(yargs, schema), runFlagsSchema).epilogue(
    `--config takes a file or a preset name (${Object.keys(PRESETS[kind]).join(', ')}); a file may start from a preset with "preset: small" and override keys.`,
  ) as Argv<T>;
}

/**
 * The run's configuration: a preset, or a file (optionally starting from a preset), with the
 * command-line flags that name config keys on top; validated by the command's schema.
 */
export async function resolveTrainingConfig<S extends z.ZodType>(
  kind: Kind,
  schema: S,
  argv: ArgumentsCamelCase<GlobalArgs>,
  flagKeys: string[],
): Promise<z.output<S>> {
  let layers: ConfigObject[] = [];
  let source = 'command-line flags';
  const flags = argv as Record<string, unknown>;
  const stored = typeof flags.out === 'string' ? join(flags.out, CONFIG) : undefined;
  if (!argv.config && flags.resume && stored && existsSync(stored)) {
    layers = [await readConfigFile(stored)];
    source = `${stored} (the run's own configuration) and command-line flags`;
  } else if (argv.config) {
    const preset = PRESETS[kind][argv.config];
    if (preset) {
      layers = [preset, { preset: argv.config }];
      source = `preset ${argv.config} and command-line flags`;
    } else {
      if (!existsSync(argv.config))
        throw new UsageError(
          `--config ${argv.config}: neither a preset (${Object.keys(PRESETS[kind]).join(', ')}) nor a config file`,
        );
      const file = await readConfigFile(argv.config);
      const named = file.preset;
      if (named !== undefined && (typeof named !== 'string' || !PRESETS[kind][named])) {
        throw new UsageError(
          `${argv.config}: preset ${JSON.stringify(named)} does not exist (presets: ${Object.keys(PRESETS[kind]).join(', ')})`,
        );
      }
      layers = named ? [PRESETS[kind][named as string], file] : [file];
      source = `${argv.config} and command-line flags`;
    }
  }
  return resolveLayers(schema, [...layers, flagValues(argv, flagKeys)], source);
}

export interface TrainingRun<C extends TrainingConfig> {
  kind: Kind;
  config: C;
  argv: ArgumentsCamelCase<
    GlobalArgs & { maxSteps?: number; resume?: boolean; timeLimit?: string; threads?: number; report?: boolean }
  >;
  context: RunContext;
  /** Builds the task (model, optimiser, samplers) for the study. */
  build(study: PreparedStudy): Promise<TrainingTask>;
  /** The command's schema, which validates the configuration stored with a checkpoint on resume. */
  schema: z.ZodType<C>;
}

/** The flow both commands share: folder checks, back end, data, resume, the loop, the summary. */
export async function runTrainingCommand<C extends TrainingConfig>(run: TrainingRun<C>): Promise<number> {
  const { argv, context } = run;
  const startedAt = Date.now();
  const out = run.config.out;
  const latest = join(out, LATEST);
  // a run killed before its first checkpoint holds its configuration and log, but no latest
  const started = [CONFIG, LOG, BEST].some((file) => existsSync(join(out, file)));
  if (existsSync(latest) && !argv.resume)
    throw new UsageError(
      `${out} already holds a training run (${LATEST}); pass --resume to continue it or choose another --out`,
    );
  if (started && !existsSync(latest) && !argv.resume) {
    throw new UsageError(
      `${out} holds a training run that stopped before its first checkpoint; pass --resume to start it again from step 0 with its configuration, or choose another --out`,
    );
  }
  if (argv.resume && !existsSync(latest) && !started)
    throw new UsageError(`--resume: ${latest} does not exist; nothing to resume`);
  for (const file of await removeOrphanTemporaries(out))
    context.logger.info(`removed ${file}, left by a run that was killed while writing it`);
  const threads = threadsOption(argv.threads);
  const timeLimit = argv.timeLimit === undefined ? undefined : parseDuration(argv.timeLimit);
  if (argv.timeLimit !== undefined && timeLimit === undefined)
    throw new UsageError(`--time-limit ${JSON.stringify(argv.timeLimit)}: write a duration such as 2h, 90m or 1:30:00`);
  await mkdir(out, { recursive: true });

  let config = run.config;
  const backend = await initBackend(config.backend, (message) => context.logger.warn(message), threads);
  context.logger.info(
    { backend: backend.name, reason: backend.reason, threads: computeThreads() },
    `${run.kind}: back end ${backend.name} (${backend.reason})${backend.name === 'wasm' ? `, ${computeThreads()} compute threads` : ''}`,
  );
  const study = await prepareStudy(config, new Random(config.seed).fork(7), (message) => context.logger.warn(message));
  const task = await run.build(study);
  let state: LoopState = { step: 0, bestScore: null, bestStep: null, validated: 0 };
  if (argv.resume && !existsSync(latest)) {
    context.logger.warn(
      `${out} has no checkpoint yet (the run stopped before its first save): starting it again from step 0`,
    );
  } else if (argv.resume) {
    const metadata = await task.load(latest);
    state = storedLoopState(metadata, latest);
    config = storedConfig(run.schema, metadata, latest);
    context.logger.info({ step: state.step }, `resuming ${latest} at step ${state.step}`);
  }
  await writeFileAtomic(join(out, CONFIG), toYaml(config));
  await writeFileAtomic(join(out, 'split.json'), `${JSON.stringify(study.split, null, 2)}\n`);
  const steps = Math.min(config.steps, argv.maxSteps ?? config.steps);
  context.logger.info(
    { train: study.split.train, validation: study.split.validation, test: study.split.test, classes: study.classes },
    `${run.kind}: ${study.train.length} training subjects, ${study.validation.length} validation, ${study.split.test.length} test (not read); ${study.classes} classes; steps ${state.step + 1}–${steps} of ${config.steps}`,
  );
  const progress = context.progress(`${run.kind}: steps`, Math.max(0, steps - state.step));
  const { state: final, stoppedBy } = await runTraining(task, {
    out,
    steps,
    constantSteps: constantSteps(run.kind, config),
    learningRate: config.optimizer.lr,
    validateEvery: config.validate_every,
    saveEvery: config.save_every,
    start: state,
    signal: context.signal,
    timeLimitSeconds: timeLimit,
    startedAt,
    progress,
    logger: context.logger,
  }).finally(() => task.close());
  const report =
    argv.report === false
      ? undefined
      : await (
          await import('../src/report/training-report.js')
        ).writeTrainingReport(
          join(out, REPORT),
          { log: join(out, LOG), best: join(out, BEST) },
          {
            kind: run.kind,
            bestStep: final.bestStep,
            command: context.commandLine,
            logger: context.logger,
          },
        );
  const perClass = task.bestPerClass?.();
  const summary = `${run.kind}: ${stoppedBy === 'time-limit' ? `stopped at step ${final.step} of ${steps} to stay within --time-limit (continue with --resume)` : `${final.step} steps done`}; best validation at step ${final.bestStep ?? 'n/a'}${perClass ? ` (Dice per class: ${perClass})` : ''}; ${[BEST, LATEST, LOG].map((file) => join(out, file)).join(', ')}${report ? `, ${report}` : ''}`;
  progress.succeed(summary);
  return ExitCode.ok;
}
