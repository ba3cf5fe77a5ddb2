import { parentPort } from 'node:worker_threads';
import { serializeError } from '../runtime/pool.js';
import { synthesizeSubject, type SubjectTask } from './subject.js';

parentPort?.on('message', async ({ id, task }: { id: number; task: SubjectTask }) => {
  try {
    parentPort?.postMessage({ id, result: await synthesizeSubject(task) });
  } catch (error) {
    parentPort?.postMessage({ id, error: serializeError(error) });
  }
});
