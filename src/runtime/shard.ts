import { UsageError } from './errors.js';
import { slurmEnvironment } from './slurm-environment.js';

/** This job's part of a list split across jobs: items index, index + count, index + 2·count, … */
export interface Shard {
  index: number;
  count: number;
  /** Where the split came from, for the log. */
  source: string;
}

/**
 * `--shard i/n` (i counting from 0, as nnU-Net's -part_id), else the SLURM job-array variables
 * (task id relative to SLURM_ARRAY_TASK_MIN and STEP, so --array=1-4 and --array=0-6:2 both work),
 * else undefined: the whole list.
 */
export function resolveShard(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  if (flag !== undefined) {
    const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(flag);
    const index = Number(match?.[1]);
    const count = Number(match?.[2]);
    if (!match || count < 1 || index >= count) {
      throw new UsageError(
        `--shard ${JSON.stringify(flag)} must be i/n with 0 ≤ i < n (i counts from 0: --shard 0/4 … --shard 3/4)`,
      );
    }
    return { index, count, source: `--shard ${index}/${count}` };
  }
  const task = slurmEnvironment(env).arrayTask;
  if (!task) return undefined;
  const id = Number(task.id);
  const count = Number(task.count);
  const min = Number(task.min ?? 0);
  const step = Number(task.step ?? 1) || 1;
  const index = (id - min) / step;
  if (![id, count, min].every(Number.isInteger) || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new UsageError(
      `cannot place SLURM array task ${task.id} (count ${task.count}, min ${task.min ?? 'unset'}, step ${task.step ?? 'unset'}); pass --shard i/n`,
    );
  }
  return { index, count, source: `SLURM array task ${id} (${index + 1} of ${count})` };
}

export function selectShard<T>(items: T[], shard: Shard | undefined): T[] {
  return shard ? items.filter((_, i) => i % shard.count === shard.index) : items;
}
