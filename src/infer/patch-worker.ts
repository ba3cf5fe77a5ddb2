import { parentPort } from 'node:worker_threads';
import { initBackend, type BackendRequest } from '../engine/backend.js';
import { loadModel } from '../model/model-file.js';
import { serializeError } from '../runtime/pool.js';
import type { Vec3 } from '../io/affine.js';
import type { PatchPredictor } from './sliding-window.js';
import { unetPredictor } from './unet-predictor.js';

/** One thread of PatchWorkers: loads the model once, then answers patches with logits. */
let predict: PatchPredictor | undefined;

type Message =
  | { kind: 'load'; modelPath: string; backend: BackendRequest }
  | { kind: 'predict'; id: number; patches: Float32Array; count: number; patch: Vec3 };

parentPort?.on('message', async (message: Message) => {
  try {
    if (message.kind === 'load') {
      await initBackend(message.backend);
      predict = unetPredictor((await loadModel(message.modelPath)).unet);
      parentPort?.postMessage({ kind: 'loaded' });
    } else {
      const logits = await predict!(message.patches, message.count, message.patch);
      parentPort?.postMessage({ kind: 'logits', id: message.id, logits }, [logits.buffer as ArrayBuffer]);
    }
  } catch (error) {
    parentPort?.postMessage({
      kind: 'error',
      id: 'id' in message ? message.id : undefined,
      error: serializeError(error),
    });
  }
});
