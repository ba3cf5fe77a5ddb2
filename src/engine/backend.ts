import { UsageError } from '../runtime/errors.js';

export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendChoice {
  name: BackendName;
  /** The npm package that provides it. */
  packageName: string;
  reason: string;
}

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

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
export function chooseBackend(request: BackendRequest, resolvable: (name: string) => boolean = isResolvable): BackendChoice {
  const native = NATIVE_PACKAGES.find(resolvable);
  switch (request) {
    case 'tensorflow':
      if (!native) {
        throw new UsageError(
          '--backend tensorflow needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node installed (see docs/backends.md)',
        );
      }
      return { name: 'tensorflow', packageName: native, reason: `requested; ${native} is installed` };
    case 'wasm':
      return { name: 'wasm', packageName: WASM_PACKAGE, reason: 'requested' };
    case 'cpu':
      return { name: 'cpu', packageName: '@tensorflow/tfjs', reason: 'requested (pure JavaScript, slowest)' };
    case 'auto':
      if (native) return { name: 'tensorflow', packageName: native, reason: `${native} is installed` };
      if (resolvable(WASM_PACKAGE)) {
        return { name: 'wasm', packageName: WASM_PACKAGE, reason: 'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed' };
      }
      return { name: 'cpu', packageName: '@tensorflow/tfjs', reason: 'no native or WebAssembly back end is installed' };
  }
}

/**
 * Loads and activates a back end. With 'auto', a native package that is installed but fails to
 * load (missing libtensorflow or CUDA libraries) falls back to WebAssembly and says why.
 */
export async function initBackend(
  request: BackendRequest,
  onFallback: (message: string) => void = () => {},
  threads = 1,
): Promise<BackendChoice> {
  const choice = chooseBackend(request);
  const tf = await import('@tensorflow/tfjs');
  try {
    if (choice.name === 'wasm') await loadWasm(threads, onFallback);
    else if (choice.name !== 'cpu') await import(choice.packageName);
    if (!(await tf.setBackend(choice.name))) throw new Error(`tf.setBackend('${choice.name}') returned false`);
    await tf.ready();
    if (choice.name === 'wasm') (await import('./heap.js')).shareIdentityOnWasm();
    (await import('./backprop.js')).freeGradientsEarly();
    return choice;
  } catch (error) {
    if (request !== 'auto' || choice.name !== 'tensorflow') throw error;
    onFallback(`${choice.packageName} is installed but failed to load (${(error as Error).message}); using WebAssembly`);
    await loadWasm(threads, onFallback);
    await tf.setBackend('wasm');
    await tf.ready();
    (await import('./heap.js')).shareIdentityOnWasm();
    (await import('./backprop.js')).freeGradientsEarly();
    return { name: 'wasm', packageName: WASM_PACKAGE, reason: `${choice.packageName} failed to load` };
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
