/** The data worker of a training run: draws the steps' batches that PrefetchedBatches asks for, in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../runtime/pool.js';
import { drawStep, samplersOf, type PrefetchInit, type PrefetchReply } from './batches.js';

const { streams, seed } = workerData as PrefetchInit;
const samplers = samplersOf(streams);

parentPort!.on('message', (step: number) => {
  let reply: PrefetchReply;
  try {
    reply = { step, batches: drawStep(samplers, streams, seed, step) };
  } catch (error) {
    parentPort!.postMessage({ step, error: serializeError(error) } satisfies PrefetchReply);
    return;
  }
  const buffers = reply.batches.flatMap((batch) =>
    !batch
      ? []
      : 'labels' in batch
        ? [batch.input.data.buffer, batch.labels.buffer]
        : [batch.input.data.buffer, batch.target.data.buffer],
  );
  parentPort!.postMessage(reply, buffers as ArrayBuffer[]);
});
