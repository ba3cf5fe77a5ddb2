import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { JsonCompatible } from 'itk-wasm';
import type { Mat4 } from '../io/affine.js';
import { readNifti } from '../io/nifti.js';
import type { Volume } from '../io/volume.js';
import { ExternalToolError } from '../runtime/errors.js';
import { AFFINE_MAP, affineTransformFile, BSPLINE_MAP, type ParameterMap } from './elastix-params.js';
import { affineOfTransformMap, elastixChainField, type TransformMap } from './elastix-transform.js';
import { formatParameterFile, rasToItkAffine } from './itk-transform.js';
import { toItkImage } from './itk-image.js';
import type { Registrar, RegistrationTask } from './registrar.js';
import type { ElastixWasmReply, ElastixWasmRequest } from './elastix-wasm-worker.js';

/** A parameter map in elastix's JSON form: every value a list of strings. */
function toJsonMap(map: ParameterMap): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(map).map(([key, value]) => [key, (Array.isArray(value) ? value : [value]).map(String)]),
  );
}

function toTransformMaps(object: JsonCompatible): TransformMap[] {
  if (!Array.isArray(object)) return [];
  return object.map((map) => new Map(Object.entries(map as Record<string, string[]>)));
}

/**
 * elastix compiled to WebAssembly (@itk-wasm/elastix): nothing to install, the same parameter maps as
 * the command line. The deformation field is evaluated from the returned transform parameters
 * (elastixChainField equals transformix `-def all` to the bit). Each registration runs in a worker
 * thread that a signal terminates.
 */
export class ElastixWasm implements Registrar {
  readonly name = 'elastix-wasm' as const;
  /** itk-wasm's elastix build is single-threaded. */
  readonly threads = 1;

  constructor(readonly version: string) {}

  async affine(task: RegistrationTask): Promise<Mat4> {
    const [result] = (await this.register(task, AFFINE_MAP, 'affine')).chain;
    return affineOfTransformMap(
      result ?? new Map(),
      `elastix-wasm (${task.stage}, affine) returned no affine parameters; see ${join(task.work, 'affine-transform.json')}`,
    );
  }

  async deformable(task: RegistrationTask & { initial: Mat4 }): Promise<Volume> {
    const initial = toJsonMap(affineTransformFile(rasToItkAffine(task.initial)));
    // the returned chain starts with the initial transform
    const { chain, fixed } = await this.register(task, BSPLINE_MAP, 'deformable', initial);
    if (chain.length !== 2 || chain[1].get('Transform')?.[0] !== 'BSplineTransform') {
      throw new ExternalToolError(
        `elastix-wasm (${task.stage}, deformable) returned no B-spline transform; see ${join(task.work, 'deformable-transform.json')}`,
      );
    }
    return elastixChainField(chain, fixed);
  }

  /** One elastix run (the transform chain, and the fixed image it read); its parameter files and any error go to the work folder, which failures name. */
  private async register(
    task: RegistrationTask,
    map: ParameterMap,
    step: string,
    initial?: Record<string, string[]>,
  ): Promise<{ chain: TransformMap[]; fixed: Volume }> {
    await mkdir(task.work, { recursive: true });
    const log = join(task.work, 'elastix-wasm.log');
    await writeFile(join(task.work, `${step}.txt`), formatParameterFile(map));
    const [fixed, moving] = await Promise.all([
      readNifti(task.fixed, { kind: 'image', require3D: true }),
      readNifti(task.moving, { kind: 'image', require3D: true }),
    ]);
    const request: ElastixWasmRequest = {
      parameterObject: [toJsonMap(map)],
      fixed: toItkImage(fixed),
      moving: toItkImage(moving),
      ...(initial ? { initialTransformParameterObject: [initial] } : {}),
    };
    const reply = await runInWorker(request, task.signal);
    if (!reply.ok) {
      await writeFile(log, reply.message);
      throw new ExternalToolError(`elastix-wasm (${task.stage}, ${step}) failed; see ${log}`);
    }
    await writeFile(join(task.work, `${step}-transform.json`), JSON.stringify(reply.transformParameterObject, null, 1));
    return { chain: toTransformMaps(reply.transformParameterObject), fixed };
  }
}

function runInWorker(request: ElastixWasmRequest, signal?: AbortSignal): Promise<ElastixWasmReply> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./elastix-wasm-worker.js', import.meta.url));
    const abort = () => {
      void worker.terminate();
      reject(signal?.reason ?? new Error('cancelled'));
    };
    if (signal?.aborted) return abort();
    signal?.addEventListener('abort', abort, { once: true });
    const settle = (action: () => void) => {
      signal?.removeEventListener('abort', abort);
      void worker.terminate();
      action();
    };
    worker.once('message', (reply: ElastixWasmReply) => settle(() => resolve(reply)));
    worker.once('error', (error) => settle(() => resolve({ ok: false, message: error.message })));
    worker.once('exit', (code) =>
      settle(() => resolve({ ok: false, message: `the elastix worker exited with code ${code}` })),
    );
    worker.postMessage(request);
  });
}
