/** What a SLURM job tells its processes; longiseg reads these variables here and nowhere else. */
export interface SlurmEnvironment {
  /** SLURM_CPUS_PER_TASK, when it is a positive whole number. */
  cpusPerTask?: number;
  /** SLURM_JOB_ID, recorded in lock files. */
  jobId?: string;
  /** The job-array variables as given (resolveShard checks them), when the job is an array task. */
  arrayTask?: { id: string; count: string; min?: string; step?: string };
}

export function slurmEnvironment(env: NodeJS.ProcessEnv = process.env): SlurmEnvironment {
  const cpus = Number(env.SLURM_CPUS_PER_TASK);
  return {
    cpusPerTask: Number.isInteger(cpus) && cpus > 0 ? cpus : undefined,
    jobId: env.SLURM_JOB_ID,
    arrayTask:
      env.SLURM_ARRAY_TASK_ID === undefined || env.SLURM_ARRAY_TASK_COUNT === undefined
        ? undefined
        : {
            id: env.SLURM_ARRAY_TASK_ID,
            count: env.SLURM_ARRAY_TASK_COUNT,
            min: env.SLURM_ARRAY_TASK_MIN,
            step: env.SLURM_ARRAY_TASK_STEP,
          },
  };
}
