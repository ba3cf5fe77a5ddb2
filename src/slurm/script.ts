import { join } from 'node:path';
import { UsageError } from '../runtime/errors.js';

export const SLURM_STAGES = ['synth', 'preprocess', 'pretrain', 'finetune', 'predict', 'evaluate'] as const;
export type SlurmStage = (typeof SLURM_STAGES)[number];

/** Stages that split their subjects or cases over a job array (from SLURM_ARRAY_TASK_ID/COUNT). */
export const ARRAY_STAGES: readonly SlurmStage[] = ['preprocess', 'predict'];
/** Stages that save and stop before a wall-clock budget and continue with --resume. */
export const RESUMABLE_STAGES: readonly SlurmStage[] = ['pretrain', 'finetune'];

export interface SlurmJob {
  stage: SlurmStage;
  /** The stage's own arguments, as longiseg takes them. */
  args: string[];
  /** Tasks of the job array (array stages only). */
  array?: number;
  /** Jobs that must finish successfully first (--dependency=afterok). */
  after: string[];
  cpus: number;
  memory?: string;
  /** Wall-clock limit in seconds. */
  timeSeconds?: number;
  partition?: string;
  gpus?: number;
  logs: string;
  /** The folder the job runs in (relative paths of `args` are relative to it). */
  directory: string;
  /** How the job starts longiseg: the Node.js binary and the CLI script. */
  node: string;
  cli: string;
  /** The command line that made the script, recorded in it. */
  origin: string;
}

/** Single quotes for bash, unless the word needs none. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const CONTROL = /\p{Cc}/u;

/**
 * Every value a script holds is checked here: a control character (a newline above all) would end
 * a #SBATCH or comment line and run the rest as a command, whatever the quoting.
 */
export function refuseControlCharacters(values: Record<string, string | string[] | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    for (const text of [value ?? []].flat()) {
      const found = CONTROL.exec(text);
      if (found)
        throw new UsageError(
          `${name}: ${JSON.stringify(text)} holds a control character (${JSON.stringify(found[0])}), which a job script cannot carry safely`,
        );
    }
  }
}

/** Seconds kept free before the SLURM limit for saving a checkpoint and exiting. */
const SAVE_MARGIN_SECONDS = 600;

/**
 * An sbatch script for one stage: resources, array, dependency and log paths filled in; threads of
 * the registration tools set from SLURM_CPUS_PER_TASK; training stages stop before the time limit
 * and resume when resubmitted.
 */
export function sbatchScript(job: SlurmJob): string {
  refuseControlCharacters({
    arguments: job.args,
    '--partition': job.partition,
    '--mem': job.memory,
    '--logs': job.logs,
    'working folder': job.directory,
    'Node.js path': job.node,
    'longiseg path': job.cli,
    'command line': job.origin,
  });
  const badJob = job.after.find((id) => !/^\d+(_\d+)?$/.test(id));
  if (badJob !== undefined)
    throw new UsageError(`--after: ${JSON.stringify(badJob)} is not a SLURM job ID (digits, or ARRAYJOB_TASK)`);
  const name = `longiseg-${job.stage}`;
  const directives = [
    `--job-name=${name}`,
    `--chdir=${job.directory}`,
    `--output=${join(job.logs, job.array ? '%x-%A_%a.out' : '%x-%j.out')}`,
    ...(job.array ? [`--array=0-${job.array - 1}`] : []),
    `--cpus-per-task=${job.cpus}`,
    ...(job.memory ? [`--mem=${job.memory}`] : []),
    ...(job.timeSeconds ? [`--time=${Math.ceil(job.timeSeconds / 60)}`] : []),
    ...(job.partition ? [`--partition=${job.partition}`] : []),
    ...(job.gpus ? [`--gpus=${job.gpus}`] : []),
    ...(job.after.length > 0 ? [`--dependency=afterok:${job.after.join(':')}`] : []),
  ];
  const lines = [
    '#!/bin/bash',
    ...directives.map((d) => `#SBATCH ${shellQuote(d)}`),
    `# written by: ${job.origin}`,
    'set -euo pipefail',
    'export ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
  ];
  const command = [job.node, job.cli, job.stage, ...job.args].map(shellQuote);
  if (RESUMABLE_STAGES.includes(job.stage)) {
    const outIndex = job.args.indexOf('--out');
    const out = outIndex >= 0 ? job.args[outIndex + 1] : undefined;
    if (out) {
      lines.push('resume=()', `if [ -f ${shellQuote(join(out, 'latest.safetensors'))} ]; then resume=(--resume); fi`);
      command.push('"${resume[@]}"');
    }
    if (job.timeSeconds)
      command.push(
        '--time-limit',
        `${Math.round(Math.max(60, job.timeSeconds - Math.min(SAVE_MARGIN_SECONDS, job.timeSeconds / 10)))}s`,
      );
  }
  lines.push(`exec ${[...command, '--log-format', 'json'].join(' ')}`);
  return `${lines.join('\n')}\n`;
}
