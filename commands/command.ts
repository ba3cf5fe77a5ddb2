import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { createContext, type GlobalArgs, type RunContext } from './context.js';

/** One subcommand: its yargs definition and a handler that returns the exit code. */
export interface LongisegCommand<A = object> {
  command: string;
  describe: string;
  builder: (yargs: Argv<GlobalArgs>) => Argv<A & GlobalArgs>;
  run: (argv: ArgumentsCamelCase<A & GlobalArgs>, context: RunContext) => Promise<number>;
}

/** Set by main: the signal that SIGINT/SIGTERM abort, and where the handler's exit code goes. */
export interface CommandRuntime {
  signal: AbortSignal;
  finish: (exitCode: number) => void;
}

export function toYargsModule<A>(
  definition: LongisegCommand<A>,
  runtime: CommandRuntime,
): CommandModule<GlobalArgs, A & GlobalArgs> {
  return {
    command: definition.command,
    describe: definition.describe,
    builder: definition.builder,
    handler: async (argv) => {
      const context = createContext(argv, runtime.signal);
      try {
        runtime.finish(await definition.run(argv, context));
      } finally {
        context.close();
      }
    },
  };
}
