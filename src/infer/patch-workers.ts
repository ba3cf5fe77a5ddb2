import { Worker } from 'node:worker_threads';
import type { BackendRequest } from '../engine/backend.js';
import type { Vec3 } from '../io/affine.js';
import { deserializeError, type SerializedError } from '../runtime/pool.js';

type Reply =
  | { kind: 'loaded' }
  | { kind: 'logits'; id: number; logits: Float32Array }
  | { kind: 'error'; id?: number; error: SerializedError };

interface Pending {
  resolve: (logits: Float32Array) => void;
  reject: (error: Error) => void;
}

/**
 * Worker threads that each hold the model and answer patches: the WebAssembly back end computes on
 * one thread, so a case's patches are spread over several (slidingWindowLogits' concurrency).
 */
export class PatchWorkers {
  private readonly idle: Worker[] = [];
  private readonly queue: { kind: 'predict'; id: number; patches: Float32Array; count: number; patch: Vec3 }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  private constructor(private readonly workers: Worker[]) {}

  static async start(modelPath: string, backend: BackendRequest, count: number): Promise<PatchWorkers> {
    const workers = Array.from({ length: count }, () => new Worker(new URL('./patch-worker.js', import.meta.url)));
    const pool = new PatchWorkers(workers);
    try {
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve, reject) => {
              worker.once('message', (reply: Reply) =>
                reply.kind === 'loaded'
                  ? resolve()
                  : reject(deserializeError((reply as { error: SerializedError }).error)),
              );
              worker.once('error', reject);
              worker.postMessage({ kind: 'load', modelPath, backend });
            }),
        ),
      );
    } catch (error) {
      await pool.close();
      throw error;
    }
    for (const worker of workers) {
      worker.on('message', (reply: Reply) => pool.answer(worker, reply));
      worker.on('error', (error) => pool.failAll(error));
      pool.idle.push(worker);
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  readonly predict = (patches: Float32Array, count: number, patch: Vec3): Promise<Float32Array> =>
    new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.queue.push({ kind: 'predict', id, patches, count, patch });
      this.pending.set(id, { resolve, reject });
      this.dispatch();
    });

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const message = this.queue.shift()!;
      this.idle.pop()!.postMessage(message, [message.patches.buffer as ArrayBuffer]);
    }
  }

  private answer(worker: Worker, reply: Reply): void {
    if (reply.kind === 'loaded') return;
    const pending = reply.id === undefined ? undefined : this.pending.get(reply.id);
    if (reply.id !== undefined) this.pending.delete(reply.id);
    this.idle.push(worker);
    if (reply.kind === 'logits') pending?.resolve(reply.logits);
    else pending?.reject(deserializeError(reply.error));
    this.dispatch();
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.queue.length = 0;
  }
}
