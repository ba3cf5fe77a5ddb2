/**
 * Typed user-facing errors. Each class maps to one documented exit code (docs/exit-codes.md);
 * the CLI prints the message without a stack trace for every subclass of LongisegError.
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  badInput: 3,
  externalTool: 4,
  interrupted: 5,
  incomplete: 6,
} as const;

export abstract class LongisegError extends Error {
  abstract readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad command line or configuration file (exit 2). */
export class UsageError extends LongisegError {
  readonly exitCode = ExitCode.usage;
}

/** Input data that cannot be used: unreadable, malformed or inconsistent files (exit 3). */
export class InputError extends LongisegError {
  readonly exitCode = ExitCode.badInput;
  constructor(
    readonly file: string | undefined,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(file ? `${file}: ${problem}` : problem, options);
  }
}

/** An external program (ANTs, elastix, sbatch) failed or produced no valid output (exit 4). */
export class ExternalToolError extends LongisegError {
  readonly exitCode = ExitCode.externalTool;
}

/** Training produced a NaN or infinite loss, gradient or weight (exit 4); nothing non-finite was saved. */
export class DivergedError extends LongisegError {
  readonly exitCode = ExitCode.externalTool;
}

/** A compute thread failed or stopped answering (exit 4); checkpoints keep their last complete state. */
export class ComputeThreadError extends LongisegError {
  readonly exitCode = ExitCode.externalTool;
}

/** The GPU device was lost or refused an operation (out of memory) (exit 4); checkpoints keep their last complete state. */
export class GpuDeviceError extends LongisegError {
  readonly exitCode = ExitCode.externalTool;
}

/** The WebAssembly heap could not hold another tensor: wasm32 addresses 4 GiB at most (exit 4). */
export class HeapExhaustedError extends LongisegError {
  readonly exitCode = ExitCode.externalTool;
}

/** The installed TensorFlow.js lacks internals that longiseg's kernels use: another version than the one tested (exit 4). */
export class IncompatibleInstallError extends LongisegError {
  readonly exitCode = ExitCode.externalTool;
}

/** The run was stopped by SIGINT or SIGTERM (exit 5). */
export class InterruptedError extends LongisegError {
  readonly exitCode = ExitCode.interrupted;
  constructor(signal = 'a signal') {
    super(`interrupted by ${signal}`);
  }
}

export function exitCodeOf(error: unknown): number {
  return error instanceof LongisegError ? error.exitCode : ExitCode.internal;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof InterruptedError ? signal.reason : new InterruptedError();
  }
}
