import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { ARGUMENTS, FAILED, FIELDS, FINISHED, POSTED, TASK, type PoolControl } from './kernel-pool.js';
import { instantiateKernels } from './kernels-instance.js';
import { TASK_FUNCTIONS, TASKS } from './parallel-tasks.js';
import type { HeapMemory } from './tfjs-internals.js';

/** One compute thread of a KernelPool: kernels.wat on the shared heap, waiting for parts of jobs. */
const { memory, control, index } = workerData as { memory: HeapMemory; control: PoolControl; index: number };
const kernels = instantiateKernels(memory, true);
const signals = new Int32Array(control.signals);
const args = new Float64Array(control.args);
const at = index * FIELDS;
// jobs are numbered from 1: one posted before this thread started is not missed
let seen = 0;

for (;;) {
  // sleeps of a millisecond while jobs come (a wake-up from Atomics.notify is lost now and then),
  // longer ones once idle
  for (let sleeps = 0; Atomics.load(signals, at + POSTED) === seen; sleeps++)
    Atomics.wait(signals, at + POSTED, seen, sleeps < 1000 ? 1 : 50);
  seen = Atomics.load(signals, at + POSTED);
  const base = index * ARGUMENTS;
  try {
    const task = TASK_FUNCTIONS[TASKS[signals[at + TASK]]];
    task(
      kernels,
      Array.from(args.subarray(base, base + ARGUMENTS - 2)),
      args[base + ARGUMENTS - 2],
      args[base + ARGUMENTS - 1],
      memory.buffer,
    );
  } catch (error) {
    signals[at + FAILED] = 1;
    // straight to the descriptor: the main thread, which relays a worker's stderr, is waiting
    writeSync(2, `longiseg compute thread ${index}: ${(error as Error).stack ?? String(error)}\n`);
  }
  Atomics.store(signals, at + FINISHED, seen);
  Atomics.notify(signals, at + FINISHED);
}
