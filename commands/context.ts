import type { ArgumentsCamelCase, Argv } from 'yargs';
import { z } from 'zod';
import { flagValues, readConfigFile, resolveLayers } from '../src/runtime/config.js';
import { createLogger, type LogFormat, type Logger } from '../src/runtime/logging.js';
import { Progress } from '../src/runtime/progress.js';
import { BACKEND_REQUESTS } from '../src/engine/backend.js';
import { flag } from '../src/runtime/flags.js';
import { addSchemaOptions } from './schema-options.js';

/** Options every command accepts. */
export interface GlobalArgs {
  logFormat?: LogFormat;
  quiet?: boolean;
  backend?: string;
  seed?: number;
  config?: string;
}

/** Config keys shared by all commands. */
export const globalSchema = z.object({
  seed: z
    .number()
    .int()
    .min(0)
    .default(0)
    .meta(flag('Seed of every random choice in the run', { global: true })),
  backend: z
    .enum(BACKEND_REQUESTS)
    .default('auto')
    .meta(
      flag('tfjs back end; auto: tfjs-node-gpu, tfjs-node, WebGPU on a hardware GPU, else WebAssembly', {
        global: true,
      }),
    ),
});

export function addGlobalOptions<T>(yargs: Argv<T>): Argv<T & GlobalArgs> {
  return addSchemaOptions(yargs, globalSchema, true)
    .option('log-format', {
      choices: ['pretty', 'json'] as const,
      describe: 'Log lines for people or JSON lines for machines (default: pretty on a terminal, json otherwise)',
      global: true,
    })
    .option('quiet', { type: 'boolean', describe: 'Only warnings and errors', global: true })
    .option('config', {
      type: 'string',
      describe: 'Options from a JSON or YAML file (snake_case keys); flags override it',
      global: true,
    }) as Argv<T & GlobalArgs>;
}

/** What a command handler gets besides its options. */
export interface RunContext {
  logger: Logger;
  signal: AbortSignal;
  /** Whether progress is shown as a spinner (terminal) or as log lines. */
  interactive: boolean;
  /** The command as typed (longiseg and its arguments), as outputs record it. */
  commandLine: string;
  progress(label: string, total: number): Progress;
  /** Stops every spinner this run started; the command wrapper calls it however the command ends. */
  close(): void;
}

export function createContext(args: GlobalArgs, signal: AbortSignal): RunContext {
  const logger = createLogger({ format: args.logFormat, quiet: args.quiet });
  const interactive = process.stderr.isTTY === true && args.logFormat !== 'json' && !args.quiet;
  const started: Progress[] = [];
  return {
    logger,
    signal,
    interactive,
    commandLine: ['longiseg', ...process.argv.slice(2)].join(' '),
    progress: (label, total) => {
      const progress = new Progress({ logger, label, total, interactive });
      started.push(progress);
      return progress;
    },
    close: () => started.forEach((progress) => progress.stop()),
  };
}

/**
 * The command's validated options: the config file (when --config is given) overlaid with the
 * flags the user typed. yargs declares no defaults, so every defined flag was given explicitly;
 * defaults live in the zod schema only.
 */
export async function resolveCommandOptions<S extends z.ZodObject>(
  schema: S,
  argv: ArgumentsCamelCase<GlobalArgs>,
): Promise<z.output<S>> {
  const fromFile = argv.config ? await readConfigFile(argv.config) : {};
  const source = argv.config ? `${argv.config} and command-line flags` : 'command-line flags';
  return resolveLayers(schema, [fromFile, flagValues(argv, Object.keys(schema.shape))], source);
}
