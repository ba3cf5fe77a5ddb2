import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { readNifti } from '../io/nifti.js';
import type { Volume } from '../io/volume.js';
import { ExternalToolError, InputError } from '../runtime/errors.js';
import { lpsFieldToRas } from './itk-transform.js';
import type { StageContext } from './registrar.js';

/**
 * Runs a registration program with an argument array (never a shell string) in the task's work
 * folder (tools may take their outputs relative to it); everything it prints goes to a log there,
 * which every failure names.
 */
export async function runTool(
  tool: string,
  args: string[],
  task: StageContext,
  step: string,
  threads: number,
  logName = `${tool}-${step.replace(/\s/g, '-')}.log`,
): Promise<void> {
  const log = join(task.work, logName);
  const result = await execa(tool, args, {
    reject: false,
    all: true,
    cwd: task.work,
    cancelSignal: task.signal,
    env: { ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS: String(threads) },
  });
  await writeFile(log, `${[tool, ...args].join(' ')}\n\n${result.all ?? ''}`);
  if (result.isCanceled) throw task.signal?.reason ?? new Error('cancelled');
  if (result.failed) {
    const reason =
      result.exitCode === undefined
        ? result.signal
          ? `was killed by ${result.signal}`
          : (result.message ?? 'could not start')
        : `exited with code ${result.exitCode}`;
    throw new ExternalToolError(`${tool} (${task.stage}, ${step}) ${reason}; see ${log}`);
  }
}

/** Tools may exit 0 without writing what they should (ANTs' wrappers always do); the outputs decide. */
export function expectOutput(path: string, tool: string, task: StageContext, step: string): void {
  if (!existsSync(path))
    throw new ExternalToolError(
      `${tool} (${task.stage}, ${step}) exited without writing ${path}; see the logs in ${task.work}`,
    );
}

/** A displacement field a tool wrote (ITK: LPS vectors), checked and in RAS; an unreadable one is the tool's failure. */
export async function readToolField(path: string, tool: string, task: StageContext): Promise<Volume> {
  expectOutput(path, tool, task, 'deformation field');
  try {
    return lpsFieldToRas(await readNifti(path));
  } catch (error) {
    if (error instanceof InputError)
      throw new ExternalToolError(`${tool} (${task.stage}) wrote an unreadable deformation field: ${error.message}`);
    throw error;
  }
}
