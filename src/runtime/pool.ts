import { Worker } from 'node:worker_threads';
import { ExternalToolError, InputError, InterruptedError, UsageError, throwIfAborted } from './errors.js';

export interface SerializedError {
  name: string;
  message: string;
  file?: string;
  stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  const e = error as Error & { file?: string };
  return { name: e?.name ?? 'Error', message: e?.message ?? String(error), file: e?.file, stack: e?.stack };
}

/** Rebuilds a typed error that crossed a worker boundary, so its exit code survives. */
export function deserializeError(data: SerializedError): Error {
  switch (data.name) {
    case 'InputError': {
      const error = new InputError(undefined, data.message);
      return Object.assign(error, { file: data.file });
    }
    case 'UsageError':
      return new UsageError(data.message);
    case 'ExternalToolError':
      return new ExternalToolError(data.message);
    default: {
      const error = new Error(data.message);
      error.stack = data.stack;
      return error;
    }
  }
}

export interface PoolOptions<R> {
  workers: number;
  /** Module run in each worker thread; it answers {id, task} with {id, result} or {id, error}. */
  workerUrl: URL;
  signal?: AbortSignal;
  onResult?: (result: R, index: number) => void;
}

/**
 * Runs `tasks` on up to `workers` threads (or in this thread through `inProcess` when one suffices)
 * and returns the results in task order. The first failure stops the pool and is rethrown.
 */
export async function runPool<T, R>(
  tasks: T[],
  inProcess: (task: T) => Promise<R>,
  options: PoolOptions<R>,
): Promise<R[]> {
  const results: R[] = new Array(tasks.length);
  const threads = Math.min(options.workers, tasks.length);
  throwIfAborted(options.signal);
  if (threads <= 1) {
    for (let i = 0; i < tasks.length; i++) {
      if (i > 0) throwIfAborted(options.signal);
      results[i] = await inProcess(tasks[i]);
      options.onResult?.(results[i], i);
    }
    return results;
  }
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let finished = 0;
      options.signal?.addEventListener('abort', () => reject(options.signal?.reason ?? new InterruptedError()), {
        once: true,
      });
      const feed = (worker: Worker) => {
        if (next >= tasks.length) return;
        const id = next++;
        worker.postMessage({ id, task: tasks[id] });
      };
      for (let w = 0; w < threads; w++) {
        const worker = new Worker(options.workerUrl);
        workers.push(worker);
        worker.on('message', (message: { id: number; result?: R; error?: SerializedError }) => {
          if (message.error) return reject(deserializeError(message.error));
          results[message.id] = message.result as R;
          options.onResult?.(message.result as R, message.id);
          if (++finished === tasks.length) resolve();
          else feed(worker);
        });
        worker.on('error', reject);
        feed(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return results;
}

/**
 * Runs `run` on every item, at most `limit` at once, starting them in order. After a failure no new
 * item starts; the first failure is thrown once the running ones have ended.
 */
export async function forEachAtOnce<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await run(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw failure.error;
}
