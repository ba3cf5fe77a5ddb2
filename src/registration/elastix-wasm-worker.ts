import { parentPort } from 'node:worker_threads';
import { elastixNode } from '@itk-wasm/elastix';
import type { Image, JsonCompatible } from 'itk-wasm';

export interface ElastixWasmRequest {
  parameterObject: JsonCompatible;
  fixed: Image;
  moving: Image;
  initialTransformParameterObject?: JsonCompatible;
}

export type ElastixWasmReply = { ok: true; transformParameterObject: JsonCompatible } | { ok: false; message: string };

/** Runs one elastix registration off the main thread, so that a signal can stop it (by terminating the worker). */
parentPort?.once('message', async (request: ElastixWasmRequest) => {
  try {
    const { transformParameterObject } = await elastixNode(request.parameterObject, {
      fixed: request.fixed,
      moving: request.moving,
      ...(request.initialTransformParameterObject
        ? { initialTransformParameterObject: request.initialTransformParameterObject }
        : {}),
    });
    parentPort?.postMessage({ ok: true, transformParameterObject } satisfies ElastixWasmReply);
  } catch (error) {
    parentPort?.postMessage({
      ok: false,
      message: error instanceof Error ? error.message : String(error),
    } satisfies ElastixWasmReply);
  }
});
