import * as tf from '@tensorflow/tfjs';
import { HeapExhaustedError, IncompatibleInstallError } from '../runtime/errors.js';

/*
 * The one place that reaches into TensorFlow.js below its public API: the wasm back end's heap,
 * tensor table, output allocation and reference counts, the engine's gradient tape, and the WebGPU
 * back end's device. A tfjs upgrade may change any of them, so checkTfjsInternals() looks for each
 * when a back end is loaded and names the versions when one is missing, rather than letting a kernel
 * fail later with a TypeError.
 */

/** The tfjs release these internals were written against (package.json pins it). */
export const TESTED_TFJS = '4.22.0';

/** A WebAssembly.Memory (ES2023's lib and @types/node 20 do not declare WebAssembly). */
export interface HeapMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

export interface WasmInternals {
  /** The heap: see wasmMemoryOf. */
  wasm: {
    wasmMemory?: HeapMemory;
    /** The module's exports; `_malloc` is a stub that replaces itself with `asm.malloc` on first use. */
    asm: { memory?: HeapMemory; malloc?: (bytes: number) => number };
    _malloc(bytes: number): number;
    _free(at: number): void;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  incRef(dataId: object): void;
}

export interface TapeNode {
  gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

export interface EngineInternals {
  /** activeTape is set when the first tape starts. */
  state: { activeTape?: TapeNode[] | null; gradientDepth: number };
  addTapeNode(...args: unknown[]): void;
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): unknown;
}

/** The wasm back end's internals, when it is the current back end. */
export function wasmInternals(): WasmInternals | undefined {
  return tf.getBackend() === 'wasm' ? wasmInternalsOf(tf.backend()) : undefined;
}

/** The wasm back end's heap: `wasmMemory` in the threaded build (created in JS, shared), `asm.memory` in the other. */
export function wasmMemoryOf(backend: WasmInternals): HeapMemory | undefined {
  return backend.wasm?.wasmMemory ?? backend.wasm?.asm?.memory;
}

/** The internals of a wasm back end that a kernel function was given. */
export function wasmInternalsOf(backend: object): WasmInternals {
  return backend as unknown as WasmInternals;
}

export function engineInternals(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

/** The WebGPU back end's device (a GPUDevice), when it is the current back end. */
export function webgpuDevice(): object | undefined {
  return tf.getBackend() === 'webgpu' ? (tf.backend() as unknown as { device: object }).device : undefined;
}

/** tf.customGrad with the callback typed by its real arguments (tfjs types them as a variadic union). */
export function typedCustomGrad<F extends (...args: never[]) => tf.Tensor>(
  f: (...args: never[]) => { value: tf.Tensor; gradFunc: unknown },
): F {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as F;
}

/** What longiseg uses of the current back end and the engine that is missing: empty when all is there. */
export function missingInternals(): string[] {
  const missing: string[] = [];
  const need = (what: string, present: boolean) => present || missing.push(what);
  const engine = engineInternals() as Partial<EngineInternals>;
  need('engine.state.gradientDepth', typeof engine.state?.gradientDepth === 'number');
  need('engine.addTapeNode', typeof engine.addTapeNode === 'function');
  need('engine.gradients', typeof engine.gradients === 'function');
  const wasm = wasmInternals() as Partial<WasmInternals> | undefined;
  if (wasm) {
    need('wasm memory', wasmMemoryOf(wasm as WasmInternals)?.buffer !== undefined);
    need('wasm _malloc and _free', typeof wasm.wasm?._malloc === 'function' && typeof wasm.wasm?._free === 'function');
    need('wasm dataIdMap', typeof wasm.dataIdMap?.get === 'function');
    need('wasm makeOutput', typeof wasm.makeOutput === 'function');
    need('wasm incRef', typeof wasm.incRef === 'function');
  }
  if (tf.getBackend() === 'webgpu') need('webgpu device', typeof webgpuDevice() === 'object');
  return missing;
}

/**
 * Makes a failed allocation in the wasm heap throw HeapExhaustedError. tfjs's wasm back end does
 * not check what malloc returns: when the heap cannot grow (wasm32 tops out at 4 GiB) it writes the
 * tensor at address 0, over the allocator's own data, and the run crashes later or hangs in free().
 */
export function guardWasmAllocation(backend: WasmInternals): void {
  const wasm = backend.wasm as WasmInternals['wasm'] & { guarded?: true };
  if (wasm.guarded) return;
  // the export itself: wrapping the stub would be undone by its first call
  const malloc = wasm.asm?.malloc ?? wasm._malloc.bind(wasm);
  wasm._malloc = (bytes: number) => {
    const at = malloc(bytes);
    if (at === 0 && bytes > 0) {
      const used = (wasmMemoryOf(backend)?.buffer.byteLength ?? 0) / 2 ** 30;
      throw new HeapExhaustedError(
        `the WebAssembly heap is full: ${(bytes / 2 ** 20).toFixed(1)} MiB more did not fit beside the ${used.toFixed(2)} GiB in use (wasm32 addresses 4 GiB at most); use a smaller crop, batch or head width, or a GPU back end (--backend webgpu or tensorflow)`,
      );
    }
    return at;
  };
  wasm.guarded = true;
}

/** Throws when the installed tfjs lacks what longiseg's kernels use, naming the installed and the tested version. */
export function checkTfjsInternals(): void {
  const missing = missingInternals();
  if (missing.length === 0) return;
  throw new IncompatibleInstallError(
    `TensorFlow.js ${tf.version_core} is installed, but longiseg was written against ${TESTED_TFJS} and needs internals this one lacks (${missing.join(', ')}); reinstall longiseg's dependencies (npm ci)`,
  );
}
