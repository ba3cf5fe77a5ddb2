import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { cleanupPendingWrites } from '../src/runtime/atomic.js';
import { ExitCode, InterruptedError, LongisegError, exitCodeOf } from '../src/runtime/errors.js';
import { toolVersion } from '../src/runtime/version.js';
import { toYargsModule } from './command.js';
import { addGlobalOptions } from './context.js';
import { commands } from './registry.js';

/** Seconds a handler gets to stop cleanly after SIGINT/SIGTERM (a training step and a checkpoint) before the process exits anyway; under SLURM's default KillWait of 30 s. */
const GRACE_SECONDS = 25;

function installSignalHandlers(controller: AbortController): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      cleanupPendingWrites();
      process.exit(ExitCode.interrupted);
    }
    process.stderr.write(`\nlongiseg: ${signal} received, stopping (again to force)\n`);
    controller.abort(new InterruptedError(signal));
    cleanupPendingWrites();
    setTimeout(() => process.exit(ExitCode.interrupted), GRACE_SECONDS * 1000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function reportError(error: unknown): number {
  cleanupPendingWrites();
  if (error instanceof LongisegError) {
    process.stderr.write(`longiseg: error: ${error.message}\n`);
  } else {
    process.stderr.write(`longiseg: internal error (please report it): ${(error as Error)?.stack ?? String(error)}\n`);
  }
  return exitCodeOf(error);
}

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  installSignalHandlers(controller);
  let exitCode: number = ExitCode.ok;
  const runtime = { signal: controller.signal, finish: (code: number) => (exitCode = code) };
  let cli = addGlobalOptions(yargs(argv))
    .scriptName('longiseg')
    .usage(
      '$0 <command> [options]\n\nLongitudinal brain-MRI segmentation: preprocessing, spatiotemporal pretraining, fine-tuning, inference and evaluation.',
    )
    .version(toolVersion)
    .strict()
    .demandCommand(1, 'Name a command (longiseg --help lists them).')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((message, error) => {
      throw error ?? new UsageFailure(message);
    });
  for (const definition of commands) cli = cli.command(toYargsModule(definition, runtime));
  try {
    await cli.parseAsync();
  } catch (error) {
    if (error instanceof UsageFailure) {
      process.stderr.write(`longiseg: ${error.message}\nRun 'longiseg --help' for usage.\n`);
      return ExitCode.usage;
    }
    return reportError(error);
  }
  return exitCode;
}

class UsageFailure extends Error {}

process.exitCode = await main(hideBin(process.argv));
