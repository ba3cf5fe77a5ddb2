import { KERNELS_WASM, KERNELS_WASM_SHARED } from './kernels-wasm.js';
import type { Kernel } from './parallel-tasks.js';

declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

const compiled = new Map<boolean, object>();

/** kernels.wat instantiated on a heap: a shared one (tfjs's threaded build) or the single-threaded build's. */
export function instantiateKernels(memory: object, shared: boolean): Record<string, Kernel> {
  let module = compiled.get(shared);
  if (!module) {
    module = new WebAssembly.Module(Buffer.from(shared ? KERNELS_WASM_SHARED : KERNELS_WASM, 'base64'));
    compiled.set(shared, module);
  }
  return new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, Kernel>;
}

/** Whether a wasm heap is shared (tfjs's threaded build), so that compute threads can work on it. */
export function heapIsShared(memory: { buffer: ArrayBufferLike }): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}
