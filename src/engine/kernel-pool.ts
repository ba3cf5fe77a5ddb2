import { Worker } from 'node:worker_threads';
import { ComputeThreadError } from '../runtime/errors.js';
import type { HeapMemory } from './tfjs-internals.js';
import { TASK_FUNCTIONS, TASKS, type Kernel, type TaskName } from './parallel-tasks.js';

/*
 * Worker threads that run longiseg's kernels on the shared wasm heap (tfjs's threaded build). The
 * main thread splits a kernel's work into parts, runs the first itself and the others on the
 * workers, and waits: each part writes memory no other part writes, and sums keep their order, so
 * the result is the same, bit for bit, whatever the number of threads.
 *
 * Jobs pass through a small shared control block rather than messages: a posted job is a sequence
 * number a worker waits on (Atomics.wait), its task and arguments; the worker answers with the same
 * number, or an error flag.
 */

/** Arguments per job (float64). */
const ARGUMENTS = 24;
/** Int32 fields per worker: posted sequence, finished sequence, task, failed. */
const FIELDS = 4;
const [POSTED, FINISHED, TASK, FAILED] = [0, 1, 2, 3];
/** A part that takes longer than this means a worker stopped answering (killed, out of memory). */
const TIMEOUT_MS = 600_000;

export interface PoolControl {
  signals: SharedArrayBuffer;
  args: SharedArrayBuffer;
}

export class KernelPool {
  private readonly signals: Int32Array;
  private readonly args: Float64Array;
  private readonly workers: Worker[] = [];
  private sequence = 0;

  /** `kernels`: the calling thread's instance of kernels.wat on `memory`, for the first part of each job. */
  constructor(
    private readonly memory: HeapMemory,
    readonly threads: number,
    private readonly kernels: Record<string, Kernel>,
  ) {
    const control: PoolControl = {
      signals: new SharedArrayBuffer(4 * FIELDS * threads),
      args: new SharedArrayBuffer(8 * ARGUMENTS * threads),
    };
    this.signals = new Int32Array(control.signals);
    this.args = new Float64Array(control.args);
    for (let index = 1; index < threads; index++) {
      const worker = new Worker(new URL('./kernel-worker.js', import.meta.url), {
        workerData: { memory, control, index },
      });
      // a pool never keeps the process alive
      worker.unref();
      this.workers.push(worker);
    }
  }

  /**
   * Runs `task` over parts [starts[i], starts[i + 1]) of its range, one part per thread (`starts`
   * has at most threads + 1 entries), with the same leading arguments, the first part on the calling
   * thread; returns when all are done.
   */
  run(task: TaskName, args: number[], starts: number[]): void {
    const parts = starts.length - 1;
    const id = (this.sequence = (this.sequence + 1) | 0);
    for (let part = 1; part < parts; part++) {
      const base = part * ARGUMENTS;
      this.args.set(args, base);
      this.args[base + ARGUMENTS - 2] = starts[part];
      this.args[base + ARGUMENTS - 1] = starts[part + 1];
      const at = part * FIELDS;
      this.signals[at + TASK] = TASKS.indexOf(task);
      this.signals[at + FAILED] = 0;
      Atomics.store(this.signals, at + POSTED, id);
      Atomics.notify(this.signals, at + POSTED);
    }
    let failure: unknown;
    try {
      TASK_FUNCTIONS[task](this.kernels, args, starts[0], starts[1], this.memory.buffer);
    } catch (error) {
      failure = error;
    }
    for (let part = 1; part < parts; part++) {
      const at = part * FIELDS;
      if (!awaitValue(this.signals, at + FINISHED, id, TIMEOUT_MS))
        throw new ComputeThreadError(
          `compute thread ${part} did not finish ${task} within ${TIMEOUT_MS / 1000} s (stopped, or out of memory)`,
        );
      if (this.signals[at + FAILED])
        failure ??= new ComputeThreadError(`compute thread ${part} failed in ${task} (its error is printed above)`);
    }
    if (failure) throw failure;
  }

  /** Stops the workers (a new back end, a new heap, a new pool). */
  close(): void {
    for (const worker of this.workers) void worker.terminate();
  }
}

/**
 * Waits until signals[index] is `value`: a short spin (parts are balanced, so the wait is short),
 * then sleeps of a millisecond that re-read the value, since a wake-up from Atomics.notify was seen
 * to be lost now and then on Node 20. False after `timeoutMs`.
 */
function awaitValue(signals: Int32Array, index: number, value: number, timeoutMs: number): boolean {
  for (let spin = 0; spin < SPINS; spin++) if (Atomics.load(signals, index) === value) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(signals, index);
    if (seen === value) return true;
    if (Date.now() > deadline) return false;
    Atomics.wait(signals, index, seen, 1);
  }
}

/** Reads of a signal before sleeping: about 20 µs. */
const SPINS = 2000;

/** [0, n) in `parts` pieces whose starts are multiples of `grain` (the last piece takes the rest). */
export function splitRange(n: number, parts: number, grain = 1): number[] {
  const units = Math.ceil(n / grain);
  const used = Math.max(1, Math.min(parts, units));
  return Array.from({ length: used + 1 }, (_, i) => Math.min(n, Math.round((i * units) / used) * grain));
}

export { ARGUMENTS, FIELDS, POSTED, FINISHED, TASK, FAILED };
