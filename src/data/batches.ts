import { Worker } from 'node:worker_threads';
import { deserializeError, type SerializedError } from '../runtime/pool.js';
import { stepRandom } from '../runtime/random.js';
import { Sampler, type LabelledBatch, type PairBatch, type SamplerOptions } from './sampler.js';
import type { Subject } from './study.js';

/** A batch of pairs of sessions or of labelled sessions, from its own subjects, drawn at every step or on a schedule. */
export interface BatchStream {
  kind: 'pairs' | 'labelled';
  count: number;
  subjects: Subject[];
  options: SamplerOptions;
  /** Drawn only at steps from + i·every (the steps that use it); every step when absent. */
  schedule?: { from: number; every: number };
}

/** A step's batches, one per stream, in the streams' order; undefined for a stream not drawn at this step. */
export type StepBatches = (PairBatch | LabelledBatch | undefined)[];

function drawnAt(stream: BatchStream, step: number): boolean {
  const schedule = stream.schedule;
  return !schedule || (step >= schedule.from && (step - schedule.from) % schedule.every === 0);
}

/** What the training step reads its batches from. */
export interface BatchSource {
  next(step: number): Promise<StepBatches>;
  close(): Promise<void>;
}

/**
 * The batches of step `step`: every draw comes from a generator of the seed and the step alone, so
 * that batches prepared ahead on a worker, drawn in line, or drawn after --resume are the same. A
 * stream not drawn at a step takes nothing from the generator, so it changes no later stream's draw.
 */
export function drawStep(samplers: Sampler[], streams: BatchStream[], seed: number, step: number): StepBatches {
  const random = stepRandom(seed, 'data', step);
  return streams.map((stream, index) => {
    if (!drawnAt(stream, step)) return undefined;
    return stream.kind === 'pairs'
      ? samplers[index].pairs(stream.count, random)
      : samplers[index].labelled(stream.count, random);
  });
}

export function samplersOf(streams: BatchStream[]): Sampler[] {
  return streams.map((stream) => new Sampler(stream.subjects, stream.options));
}

/**
 * The batch source of a training run: with `prefetch` > 0 a worker thread prepares that many steps'
 * batches ahead (loading crops, augmentation) while the current step computes; with 0 they are drawn
 * on the calling thread. Both give the same batches.
 */
export function batchSource(streams: BatchStream[], seed: number, prefetch: number): BatchSource {
  return prefetch > 0 ? new PrefetchedBatches(streams, seed, prefetch) : new InlineBatches(streams, seed);
}

class InlineBatches implements BatchSource {
  private readonly samplers: Sampler[];

  constructor(
    private readonly streams: BatchStream[],
    private readonly seed: number,
  ) {
    this.samplers = samplersOf(streams);
  }

  async next(step: number): Promise<StepBatches> {
    return drawStep(this.samplers, this.streams, this.seed, step);
  }

  async close(): Promise<void> {}
}

/** The messages between PrefetchedBatches and its worker (batch-worker.ts). */
export interface PrefetchInit {
  streams: BatchStream[];
  seed: number;
}
export type PrefetchReply = { step: number; batches: StepBatches } | { step: number; error: SerializedError };

interface Pending {
  promise: Promise<StepBatches>;
  resolve: (batches: StepBatches) => void;
  reject: (error: Error) => void;
}

class PrefetchedBatches implements BatchSource {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  constructor(
    streams: BatchStream[],
    seed: number,
    private readonly depth: number,
  ) {
    // the sessions' voxels are SharedArrayBuffers (loadSubjects): the worker reads them without a copy
    this.worker = new Worker(new URL('./batch-worker.js', import.meta.url), {
      workerData: { streams, seed } satisfies PrefetchInit,
    });
    this.worker.on('message', (reply: PrefetchReply) => {
      const entry = this.pending.get(reply.step);
      if (!entry) return;
      if ('error' in reply)
        entry.reject(
          deserializeError({ ...reply.error, message: `data worker, step ${reply.step + 1}: ${reply.error.message}` }),
        );
      else entry.resolve(reply.batches);
    });
    this.worker.on('error', (error) => this.fail(new Error(`data worker: ${error.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`data worker stopped (exit ${code})`)));
    this.worker.unref();
  }

  async next(step: number): Promise<StepBatches> {
    if (this.failure) throw this.failure;
    // this step, and `depth` steps ahead of it (the worker draws them in the order asked)
    for (let ahead = step; ahead <= step + this.depth; ahead++) this.request(ahead);
    // the worker keeps the process alive only while a step waits on it
    this.worker.ref();
    try {
      return await this.pending.get(step)!.promise;
    } finally {
      this.pending.delete(step);
      this.worker.unref();
    }
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private request(step: number): void {
    if (this.pending.has(step)) return;
    let resolve!: (batches: StepBatches) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<StepBatches>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => {});
    this.pending.set(step, { promise, resolve, reject });
    this.worker.postMessage(step);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const entry of this.pending.values()) entry.reject(this.failure);
  }
}
