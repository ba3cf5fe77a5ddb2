import { parentPort } from 'node:worker_threads';
import { serializeError } from '../runtime/pool.js';
import { evaluateGroup, type GroupTask } from './group.js';

parentPort?.on('message', async ({ id, task }: { id: number; task: GroupTask }) => {
  try {
    parentPort?.postMessage({ id, result: await evaluateGroup(task) });
  } catch (error) {
    parentPort?.postMessage({ id, error: serializeError(error) });
  }
});
