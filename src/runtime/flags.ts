/**
 * Metadata that makes a key of an options schema a command-line flag (the key in kebab-case):
 * `subjects: z.number().default(8).meta(flag('Number of subjects'))`. The commands make their yargs
 * options from it, with the help's "(default X)" taken from the schema.
 */
export interface FlagMeta {
  /** zod's metadata is an open record. */
  [key: string]: unknown;
  /** The help text, without the default. */
  describe: string;
  /** Said instead of the schema's default, for one it cannot state ("SLURM_CPUS_PER_TASK, else one per CPU"). */
  defaultText?: string;
  alias?: string;
  /** Taken by every command (declared once, before the commands). */
  global?: boolean;
  /** Takes several values (--input a b c). */
  array?: boolean;
}

export function flag(describe: string, extra: Omit<FlagMeta, 'describe'> = {}): FlagMeta {
  return { describe, ...extra };
}

/** The command-line flag of an options key: max_steps → max-steps. */
export function flagName(key: string): string {
  return key.replace(/_/g, '-');
}
