import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { Argv } from 'yargs';
import { z } from 'zod';
import { writeFileAtomic } from '../src/runtime/atomic.js';
import { ExitCode, ExternalToolError, UsageError } from '../src/runtime/errors.js';
import { probeTool } from '../src/runtime/system.js';
import { ARRAY_STAGES, SLURM_STAGES, sbatchScript, shellQuote } from '../src/slurm/script.js';
import { parseDuration } from '../src/train/schedule.js';
import { commaList } from '../src/runtime/lists.js';
import type { LongisegCommand } from './command.js';
import { flag } from '../src/runtime/flags.js';
import { addSchemaOptions } from './schema-options.js';
import { globalSchema, resolveCommandOptions, type GlobalArgs } from './context.js';

export const slurmSchema = globalSchema
  .extend({
    stage: z.enum(SLURM_STAGES),
    array: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta(flag('Tasks of a job array (preprocess, predict): each takes every n-th subject or case')),
    after: z
      .union([z.string(), z.number()])
      .optional()
      .meta(flag('Job IDs that must succeed first (--dependency=afterok), comma-separated')),
    cpus: z.number().int().min(1).default(2).meta(flag('CPUs per task; longiseg and the registration tools use them')),
    mem: z
      .string()
      .regex(/^\d+[KMGT]?$/, 'a size such as 8G')
      .optional()
      .meta(flag('Memory per task, e.g. 8G')),
    time: z
      .string()
      .optional()
      .meta(
        flag(
          'Time limit (2h, 90m, 1-00:00:00); pretrain/finetune stop 10 % (at most 10 min) before it and resume when resubmitted',
        ),
      ),
    partition: z.string().min(1).optional().meta(flag('SLURM partition')),
    gpus: z.number().int().min(1).optional().meta(flag('GPUs per job (pretrain, finetune on tfjs-node-gpu)')),
    logs: z.string().min(1).default('slurm-logs').meta(flag('Folder of the job logs')),
    script: z
      .string()
      .min(1)
      .optional()
      .meta(flag('Where to write the script', { defaultText: 'slurm/longiseg-STAGE.sbatch' })),
    submit: z
      .boolean()
      .default(false)
      .meta(flag('Submit with sbatch and print the job ID (for --after of the next stage)')),
    print: z.boolean().default(false).meta(flag('Print the script instead of writing it')),
  })
  .strict();

const CLI = fileURLToPath(new URL('../../bin/longiseg', import.meta.url));

export const slurmCommand: LongisegCommand<Record<string, unknown>> = {
  command: 'slurm <stage>',
  describe:
    'Write (and submit) the sbatch script of a stage: job arrays for preprocess and predict, dependencies, logs, resumable training',
  builder: (yargs: Argv<GlobalArgs>) =>
    addSchemaOptions(yargs, slurmSchema)
      .positional('stage', {
        choices: SLURM_STAGES,
        describe: 'The longiseg command the job runs; its own options follow --',
      })

      .example(
        '$0 slurm preprocess --array 8 --cpus 4 --submit -- --bids study --out registered',
        'eight tasks, each registering every eighth subject',
      )
      .example(
        '$0 slurm evaluate --after 1234 --submit -- --pred predictions --ref labels --longitudinal',
        'once the predict array has succeeded',
      ),
  async run(argv, context) {
    const { _: rest, '--': dashed, ...flags } = argv as typeof argv & { '--'?: string[] };
    const options = await resolveCommandOptions(slurmSchema, flags as typeof argv);
    const args = (dashed ?? rest.slice(1)).map(String);
    if (options.array && !ARRAY_STAGES.includes(options.stage))
      throw new UsageError(
        `--array: ${options.stage} runs as one job; only ${ARRAY_STAGES.join(' and ')} split their work over an array`,
      );
    if (options.submit && options.print) throw new UsageError('--submit and --print exclude each other');
    const timeSeconds = options.time === undefined ? undefined : parseDuration(options.time);
    if (options.time !== undefined && !timeSeconds)
      throw new UsageError(`--time ${options.time}: not a duration (2h, 90m, 1-00:00:00)`);
    const script = sbatchScript({
      stage: options.stage,
      args,
      array: options.array,
      after: options.after === undefined ? [] : commaList(String(options.after)),
      cpus: options.cpus,
      memory: options.mem,
      timeSeconds,
      partition: options.partition,
      gpus: options.gpus,
      logs: resolve(options.logs),
      directory: process.cwd(),
      node: process.execPath,
      cli: CLI,
      origin: ['longiseg', ...process.argv.slice(2)].map(shellQuote).join(' '),
    });
    if (options.print) {
      process.stdout.write(script);
      return ExitCode.ok;
    }
    const file = options.script ?? `slurm/longiseg-${options.stage}.sbatch`;
    if (options.submit) {
      const sbatch = await probeTool('sbatch', ['--version'], /slurm\s+(\S+)/i);
      if (!sbatch.found)
        throw new UsageError(
          'sbatch is not on PATH: this machine cannot submit jobs. Use --print (or drop --submit) to write the script and submit it where SLURM runs',
        );
    }
    await writeFileAtomic(file, script);
    await mkdir(resolve(options.logs), { recursive: true });
    if (!options.submit) {
      context.logger.info({ script: file }, `wrote ${file}; submit it with: sbatch ${file}`);
      return ExitCode.ok;
    }
    const result = await execa('sbatch', ['--parsable', file], { reject: false, all: true });
    const jobId = result.stdout.trim().split(';')[0];
    if (result.exitCode !== 0 || !/^\d+$/.test(jobId))
      throw new ExternalToolError(`sbatch ${file} failed (exit ${result.exitCode}): ${result.all?.trim()}`);
    context.logger.info(
      { script: file, job: jobId },
      `submitted ${file} as job ${jobId}${options.array ? ` (array of ${options.array})` : ''}; logs in ${resolve(options.logs)}`,
    );
    process.stdout.write(`${jobId}\n`);
    return ExitCode.ok;
  },
};
