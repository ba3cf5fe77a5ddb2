import { existsSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatTsv, tsvCell } from '../io/tsv.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { DivergedError, InputError, InterruptedError } from '../runtime/errors.js';
import type { Logger } from '../runtime/logging.js';
import type { ProgressSink } from '../runtime/progress.js';
import { learningRateFactor } from './schedule.js';

/** Where a run stands; stored in every checkpoint so that --resume continues exactly. */
export interface LoopState {
  /** Optimiser steps done. */
  step: number;
  /** Best validation score so far (lower is better) and its step. */
  bestScore: number | null;
  bestStep: number | null;
  /** The step of the last validation (absent in checkpoints of earlier versions). */
  validated?: number;
}

/** The loop state a checkpoint stores (`state` in its metadata); refused, naming the file, when it is not one. */
export function storedLoopState(metadata: Record<string, string>, path: string): LoopState {
  let state: Partial<LoopState> | undefined;
  try {
    state = JSON.parse(metadata.state ?? '') as Partial<LoopState>;
  } catch {
    state = undefined;
  }
  const count = (value: unknown) => Number.isInteger(value) && (value as number) >= 0;
  if (
    !state ||
    !count(state.step) ||
    !(state.bestStep === null || count(state.bestStep)) ||
    !(state.bestScore === null || typeof state.bestScore === 'number')
  ) {
    throw new InputError(path, 'holds no readable training state (metadata "state"): not a checkpoint to resume from');
  }
  return state as LoopState;
}

/** What pretrain and finetune plug into the loop. */
export interface TrainingTask {
  readonly trainColumns: string[];
  readonly validationColumns: string[];
  /** Step `step` (0-based); its random draws are a function of the seed and `step` alone. */
  step(step: number, learningRate: number): Promise<Map<string, number>>;
  /** `score` is lower-is-better; `values` are logged. */
  validate(): Promise<{ score: number; values: Map<string, number> }>;
  saveLatest(path: string, state: LoopState): Promise<void>;
  saveBest(path: string, state: LoopState): Promise<void>;
  /** Restores the weights and the optimiser from a saveLatest file; returns its metadata (config, state). */
  load(path: string): Promise<Record<string, string>>;
  /** A warning after a validation at `step` of `steps`, when the values show that the run is not learning. */
  learningWarning?(step: number, steps: number, values: Map<string, number>): string | undefined;
  /** Validation results per class at the best checkpoint, for the closing line. */
  bestPerClass?(): string | undefined;
  /** Stops what the task runs besides the step (its data worker) and frees the optimiser's moments. */
  close(): Promise<void>;
}

export interface LoopOptions {
  out: string;
  steps: number;
  constantSteps: number;
  learningRate: number;
  validateEvery: number;
  saveEvery: number;
  start: LoopState;
  signal: AbortSignal;
  /** Seconds from the start of the command after which no new step begins. */
  timeLimitSeconds?: number;
  startedAt: number;
  progress: ProgressSink;
  logger: Logger;
}

export const LATEST = 'latest.safetensors';
export const BEST = 'best.safetensors';
export const LOG = 'train_log.tsv';
export const CONFIG = 'config.yaml';

/**
 * Steps with the const_linear schedule, a train_log.tsv row per step and per validation, `latest`
 * every saveEvery steps, `best` whenever validation improves. A signal or the time limit ends the
 * run after the current step with `latest` saved.
 */
export async function runTraining(
  task: TrainingTask,
  options: LoopOptions,
): Promise<{ state: LoopState; stoppedBy: 'done' | 'time-limit' }> {
  const state: LoopState = { ...options.start };
  const columns = ['step', 'phase', 'lr', 'seconds', ...task.trainColumns, ...task.validationColumns];
  await prepareLog(join(options.out, LOG), columns, state.step);
  const log = (phase: string, lr: number, seconds: number, values: Map<string, number>) =>
    appendFile(
      join(options.out, LOG),
      `${[state.step, phase, lr, seconds.toFixed(3), ...columns.slice(4).map((c) => values.get(c))].map(tsvCell).join('\t')}\n`,
    );
  let saved = existsSync(join(options.out, LATEST)) ? state.step : undefined;
  const save = async () => {
    await task.saveLatest(join(options.out, LATEST), { ...state });
    saved = state.step;
  };
  const slowest = { step: 0, validation: 0 };
  const validationDue = (step: number) => step % options.validateEvery === 0 || step === options.steps;
  const validate = async (lr: number) => {
    const validationBegan = performance.now();
    const { score, values } = await task.validate();
    const validationSeconds = (performance.now() - validationBegan) / 1000;
    slowest.validation = Math.max(slowest.validation, validationSeconds);
    await log('validation', lr, validationSeconds, values);
    const improved = state.bestScore === null || score < state.bestScore;
    options.logger.info(
      { step: state.step, validation: Object.fromEntries(values), improved },
      `step ${state.step}: validation ${[...values].map(([k, v]) => `${k} ${v.toPrecision(4)}`).join(', ')}${improved ? ' (best so far)' : ''}`,
    );
    const warning = task.learningWarning?.(state.step, options.steps, values);
    if (warning) options.logger.warn(warning);
    state.validated = state.step;
    if (improved) {
      state.bestScore = score;
      state.bestStep = state.step;
      await task.saveBest(join(options.out, BEST), { ...state });
    }
  };
  const stop = async () => {
    await save();
    throw options.signal.reason instanceof InterruptedError ? options.signal.reason : new InterruptedError();
  };

  // a run stopped after a step that was due for validation validates it first
  if (state.validated !== undefined && state.validated < state.step && validationDue(state.step)) {
    await validate(options.learningRate * learningRateFactor(state.step - 1, options.constantSteps, options.steps));
    await save();
  }
  while (state.step < options.steps) {
    if (options.signal.aborted) await stop();
    if (options.timeLimitSeconds !== undefined) {
      const elapsed = (Date.now() - options.startedAt) / 1000;
      const validationTime = validationDue(state.step + 1) ? slowest.validation : 0;
      if (elapsed + 1.25 * (slowest.step + validationTime) + 10 > options.timeLimitSeconds) {
        await save();
        return { state, stoppedBy: 'time-limit' };
      }
    }
    const lr = options.learningRate * learningRateFactor(state.step, options.constantSteps, options.steps);
    const began = performance.now();
    const terms = await divergence(() => task.step(state.step, lr), state.step + 1, saved);
    state.step += 1;
    const seconds = (performance.now() - began) / 1000;
    slowest.step = Math.max(slowest.step, seconds);
    await log('train', lr, seconds, terms);
    options.progress.advance(
      1,
      [...terms]
        .slice(0, 4)
        .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
        .join(' '),
    );
    // a signal during the step: saved as it is, the validation it was due for runs on --resume
    if (options.signal.aborted) await stop();
    if (validationDue(state.step)) await validate(lr);
    if (state.step % options.saveEvery === 0 || state.step === options.steps) await save();
  }
  return { state, stoppedBy: 'done' };
}

/**
 * Runs a training step; a NaN or infinite gradient or loss stops the run with a DivergedError that
 * says which step and what latest.safetensors still holds (nothing non-finite is saved).
 */
async function divergence(
  step: () => Promise<Map<string, number>>,
  number: number,
  saved: number | undefined,
): Promise<Map<string, number>> {
  const kept = `${saved === undefined ? `no ${LATEST} was saved yet` : `${LATEST} keeps step ${saved}, the last finite state`}; lower optimizer.lr, or check the data`;
  let terms: Map<string, number>;
  try {
    terms = await step();
  } catch (error) {
    if (error instanceof DivergedError) throw new DivergedError(`step ${number}: ${error.message}; ${kept}`);
    throw error;
  }
  const broken = [...terms].filter(([, value]) => !Number.isFinite(value)).map(([name]) => name);
  if (broken.length > 0)
    throw new DivergedError(
      `step ${number}: training diverged: the ${broken.join(', ')} loss is NaN or infinite; ${kept}`,
    );
  return terms;
}

/** A new log gets its header; a resumed one loses the rows after the checkpoint it resumes from. */
async function prepareLog(path: string, columns: string[], step: number): Promise<void> {
  if (!existsSync(path) || step === 0) {
    await writeFileAtomic(path, formatTsv(columns, []));
    return;
  }
  const [header, ...rows] = (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
  await writeFileAtomic(path, [header, ...rows.filter((row) => Number(row.split('\t')[0]) <= step)].join('\n') + '\n');
}
