import { UsageError } from '../runtime/errors.js';
import {
  describeAdapter,
  gpuAdapter,
  gpuDeviceFiles,
  registerWebGpu,
  watchGpuDevice,
  WebGpuUnavailable,
} from './webgpu.js';

export const BACKEND_REQUESTS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKEND_REQUESTS)[number];
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendChoice {
  name: BackendName;
  /** The npm package that provides it. */
  packageName: string;
  reason: string;
}

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
const WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';

export function isResolvable(packageName: string): boolean {
  try {
    import.meta.resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

/**
 * Which back end a request resolves to, judged by what is installed (without loading it):
 * the native TensorFlow packages when present (GPU first), else WebAssembly, else pure JS.
 */
export function chooseBackend(
  request: BackendRequest,
  resolvable: (name: string) => boolean = isResolvable,
): BackendChoice {
  const native = NATIVE_PACKAGES.find(resolvable);
  switch (request) {
    case 'tensorflow':
      if (!native) {
        throw new UsageError(
          '--backend tensorflow needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node installed (see docs/backends.md)',
        );
      }
      return { name: 'tensorflow', packageName: native, reason: `requested; ${native} is installed` };
    case 'webgpu':
      return { name: 'webgpu', packageName: WEBGPU_PACKAGE, reason: 'requested' };
    case 'wasm':
      return { name: 'wasm', packageName: WASM_PACKAGE, reason: 'requested' };
    case 'cpu':
      return { name: 'cpu', packageName: '@tensorflow/tfjs', reason: 'requested (pure JavaScript, slowest)' };
    case 'auto':
      if (native) return { name: 'tensorflow', packageName: native, reason: `${native} is installed` };
      if (resolvable(WASM_PACKAGE)) {
        return {
          name: 'wasm',
          packageName: WASM_PACKAGE,
          reason: 'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed',
        };
      }
      return { name: 'cpu', packageName: '@tensorflow/tfjs', reason: 'no native or WebAssembly back end is installed' };
  }
}

/**
 * Loads and activates a back end. With 'auto', a native package that is installed but fails to
 * load (missing libtensorflow or CUDA libraries) falls back to the next choice and says why; after
 * TensorFlow comes WebGPU on a hardware adapter, then WebAssembly. A software adapter (llvmpipe) is
 * used only when webgpu is asked for by name, with a warning.
 */
export async function initBackend(
  request: BackendRequest,
  onFallback: (message: string) => void = () => {},
  threads = 1,
): Promise<BackendChoice> {
  let choice = await resolveBackend(request);
  const tf = await import('@tensorflow/tfjs');
  try {
    if (choice.name === 'webgpu') choice = await registeredWebGpu(choice, request, onFallback);
    if (choice.name === 'wasm') await loadWasm(threads, onFallback);
    else if (choice.name !== 'cpu') await import(choice.packageName);
    if (!(await tf.setBackend(choice.name))) throw new Error(`tf.setBackend('${choice.name}') returned false`);
    await tf.ready();
    await afterLoad(choice.name);
    return choice;
  } catch (error) {
    if (request !== 'auto' || choice.name === 'wasm' || choice.name === 'cpu') throw error;
    onFallback(
      `${choice.packageName} is installed but failed to load (${(error as Error).message}); using WebAssembly`,
    );
    await loadWasm(threads, onFallback);
    await tf.setBackend('wasm');
    await tf.ready();
    await afterLoad('wasm');
    return { name: 'wasm', packageName: WASM_PACKAGE, reason: `${choice.packageName} failed to load` };
  }
}

async function afterLoad(name: BackendName): Promise<void> {
  const internals = await import('./tfjs-internals.js');
  internals.checkTfjsInternals();
  if (name === 'wasm') {
    (await import('./heap.js')).shareIdentityOnWasm();
    internals.guardWasmAllocation(internals.wasmInternals()!);
  }
  if (name === 'webgpu') watchGpuDevice(internals.webgpuDevice() as Parameters<typeof watchGpuDevice>[0]);
  (await import('./backprop.js')).freeGradientsEarly();
}

/** chooseBackend, and for 'auto' without TensorFlow, whether Dawn finds a hardware GPU adapter. */
export async function resolveBackend(request: BackendRequest): Promise<BackendChoice> {
  const choice = chooseBackend(request);
  return request === 'auto' && choice.name === 'wasm' ? hardwareGpu(choice) : choice;
}

/**
 * For 'auto' without TensorFlow: WebGPU when Dawn finds a hardware adapter, else `wasm` with the
 * reason. A Linux machine without a GPU device file does not load Dawn at all: nothing to find, and
 * a CPU-only Vulkan driver would print its warnings on every command.
 */
export async function hardwareGpu(wasm: BackendChoice, deviceFiles = gpuDeviceFiles()): Promise<BackendChoice> {
  if (!isResolvable('webgpu') || !isResolvable(WEBGPU_PACKAGE)) return wasm;
  if (deviceFiles?.length === 0)
    return { ...wasm, reason: `${wasm.reason}; no GPU device (/dev/nvidia*, /dev/dri/renderD*, /dev/dxg)` };
  try {
    const adapter = await gpuAdapter();
    if (!adapter.software)
      return {
        name: 'webgpu',
        packageName: WEBGPU_PACKAGE,
        reason: `no TensorFlow package; GPU adapter ${describeAdapter(adapter)}`,
      };
    return {
      ...wasm,
      reason: `${wasm.reason}; the only GPU adapter is a software one (${adapter.description}), used only with --backend webgpu`,
    };
  } catch (error) {
    if (!(error instanceof WebGpuUnavailable)) throw error;
    return { ...wasm, reason: `${wasm.reason}; no WebGPU: ${error.message}` };
  }
}

/**
 * Registers the WebGPU back end. Asked for by name, the choice's reason names the adapter (a
 * software one with a warning), and no adapter is exit 2 with the reason; `auto` chose it on the
 * hardware adapter its reason already names.
 */
async function registeredWebGpu(
  choice: BackendChoice,
  request: BackendRequest,
  warn: (message: string) => void,
): Promise<BackendChoice> {
  try {
    await registerWebGpu();
    if (request !== 'webgpu') return choice;
    const adapter = await gpuAdapter();
    if (adapter.software)
      warn(
        `WebGPU runs on a software adapter, ${adapter.description}: correct but far slower than wasm; meant for tests`,
      );
    return { ...choice, reason: `requested; GPU adapter ${describeAdapter(adapter)}` };
  } catch (error) {
    if (error instanceof WebGpuUnavailable && request === 'webgpu')
      throw new UsageError(`--backend webgpu: ${error.message}`);
    throw error;
  }
}

/**
 * Registers the wasm back end: tfjs's threaded build (a shared heap for longiseg's compute threads)
 * when more than one thread is asked for, else the standard build, which starts no threads.
 */
async function loadWasm(threads: number, onFallback: (message: string) => void): Promise<void> {
  if (threads > 1) await (await import('./wasm-threaded.js')).useSharedWasmHeap(onFallback);
  else await import(WASM_PACKAGE);
  (await import('./wasm-kernels.js')).setComputeThreads(threads);
}
