import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/*
 * tfjs's WebAssembly back end ships a threaded SIMD build, whose heap is a shared
 * WebAssembly.Memory, but turns it off in Node: Emscripten starts its pthread workers from a Blob
 * URL, which Node's worker_threads cannot load (tfjs issue 3830). longiseg needs the shared heap,
 * not those pthreads: its own kernels run on it from its own worker threads (engine/kernel-pool.ts).
 * So the build is started here with its scripts given by file path, XNNPACK kept to one thread.
 */

interface EmscriptenModule {
  cwrap(name: string, returns: string | null, args: string[]): (...args: number[]) => number;
  wasmMemory: { buffer: ArrayBufferLike };
  tfjs?: Record<string, unknown>;
}

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

const require = createRequire(import.meta.url);

/**
 * The scripts Emscripten's workers load by path, written once per tfjs version into the temporary
 * folder (the package ships the worker as a string only).
 */
function workerScripts(factory: Factory, workerContents: string): { worker: string; main: string } {
  const texts = {
    // the string holds the script with its escapes resolved; a file needs them back
    worker: workerContents.replace(/\n/g, '\\n'),
    main: `var WasmBackendModuleThreadedSimd = ${factory.toString()}`,
  };
  const hash = createHash('sha256').update(texts.worker).update(texts.main).digest('hex').slice(0, 16);
  const target = join(tmpdir(), `longiseg-tfjs-wasm-${hash}`);
  const paths = { worker: join(target, 'worker.js'), main: join(target, 'main.js') };
  if (!existsSync(paths.worker) || !existsSync(paths.main)) {
    mkdirSync(target, { recursive: true });
    for (const name of ['worker', 'main'] as const) {
      const temporary = `${paths[name]}.${process.pid}`;
      writeFileSync(temporary, texts[name]);
      renameSync(temporary, paths[name]);
    }
  }
  return paths;
}

/** Starts tfjs's threaded SIMD wasm build in Node, as tfjs's own init does in browsers. */
async function threadedModule(): Promise<EmscriptenModule> {
  const folder = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const imported = require(join(folder, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js')) as
    Factory | { default: Factory };
  const factory = typeof imported === 'function' ? imported : imported.default;
  const { wasmWorkerContents } = require(join(folder, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  const scripts = workerScripts(factory, wasmWorkerContents);
  // Emscripten rethrows every uncaught exception and rejection from handlers of its own: Node
  // would then print a line of its minified source instead of the error
  const events: string[] = ['uncaughtException', 'unhandledRejection'];
  const listeners = (event: string) => process.listeners(event as 'uncaughtException') as unknown[];
  const before = events.map(listeners);
  const module = await factory({
    locateFile: (path: string) =>
      path.endsWith('.worker.js')
        ? scripts.worker
        : path.endsWith('.wasm')
          ? join(folder, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm')
          : path,
    mainScriptUrlOrBlob: scripts.main,
  });
  events.forEach((event, i) => {
    for (const listener of listeners(event))
      if (!before[i].includes(listener)) process.removeListener(event, listener as never);
  });
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  return module;
}

let registered = false;

/**
 * Makes 'wasm' the threaded build (shared heap); when that cannot start, the single-threaded one,
 * and `onFallback` says why. Call before tf.setBackend('wasm').
 */
export async function useSharedWasmHeap(onFallback: (message: string) => void): Promise<void> {
  if (registered) return;
  registered = true;
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const standard = tf.findBackendFactory('wasm');
  if (!standard) throw new Error('@tensorflow/tfjs-backend-wasm registered no wasm back end');
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      try {
        wasm.setThreadsCount(1);
        return new wasm.BackendWasm((await threadedModule()) as never);
      } catch (error) {
        onFallback(
          `tfjs's threaded WebAssembly build did not start (${(error as Error).message}); longiseg's kernels run on one thread`,
        );
        return standard();
      }
    },
    2,
  );
}
