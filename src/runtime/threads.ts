import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { slurmEnvironment } from './slurm-environment.js';

/** More threads than this is a typing error, not a machine. */
export const MAX_THREADS = 1024;

/** --threads in a command's option schema. */
export const threadsSchema = z.number().int().min(1).max(MAX_THREADS);

/** Threads when --threads is not given: SLURM's CPUs for the task inside a job, else every CPU of the machine. */
export function defaultThreads(env: NodeJS.ProcessEnv = process.env): { threads: number; source: string } {
  const { cpusPerTask } = slurmEnvironment(env);
  if (cpusPerTask !== undefined) return { threads: Math.min(cpusPerTask, MAX_THREADS), source: 'SLURM_CPUS_PER_TASK' };
  return { threads: Math.min(availableParallelism(), MAX_THREADS), source: 'CPUs of this machine' };
}

/** --threads as given (checked: a whole number from 1 to 1024), else the default. */
export function threadsOption(value: unknown): number {
  if (value === undefined) return defaultThreads().threads;
  const parsed = threadsSchema.safeParse(value);
  if (!parsed.success)
    throw new UsageError(`--threads ${String(value)}: give a whole number of threads from 1 to ${MAX_THREADS}`);
  return parsed.data;
}
