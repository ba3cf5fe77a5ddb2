import * as tf from '@tensorflow/tfjs';
import { wasmInternals, wasmInternalsOf, wasmMemoryOf, type HeapMemory, type WasmInternals } from './tfjs-internals.js';

/*
 * Tensor values without the copies of dataSync() and tf.tensor(). On the wasm back end both copy
 * through freshly allocated JS memory, and first touching fresh memory costs a page fault per 4 KiB:
 * filling a new 64 MB column matrix took 5× as long as filling a reused one on these machines. So
 * longiseg's kernels read and write the tensors' bytes in the wasm heap, whose pages the allocator
 * reuses. A view is valid until the next tfjs allocation (the heap may grow and move): fetch it,
 * use it, and fetch it again after any tfjs op. Never write into an existing tensor: kernels cache
 * work keyed by tensor (XNNPACK packs matMul weights once). Elsewhere these are dataSync() and tf.tensor().
 */

function heapView(backend: WasmInternals, dataId: object, size: number): Float32Array {
  return new Float32Array(wasmMemoryOf(backend)!.buffer, backend.dataIdMap.get(dataId).memoryOffset, size);
}

/** The values of a float32 tensor; on wasm a view into the heap, to read only and only until the next tfjs op. */
export function valuesOf(tensor: tf.Tensor): Float32Array {
  const backend = wasmInternals();
  return backend ? heapView(backend, tensor.dataId, tensor.size) : (tensor.dataSync() as Float32Array);
}

/** A new float32 tensor whose values `fill` writes in place (they start undefined on wasm); `fill` must not call tfjs. */
export function tensorFilled<R extends tf.Rank>(shape: number[], fill: (values: Float32Array) => void): tf.Tensor<R> {
  const backend = wasmInternals();
  const size = tf.util.sizeFromShape(shape);
  if (!backend) {
    const values = new Float32Array(size);
    fill(values);
    return tf.tensor<tf.Rank>(values, shape) as tf.Tensor<R>;
  }
  const info = backend.makeOutput(shape, 'float32');
  fill(heapView(backend, info.dataId, size));
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
}

/** The wasm back end's memory and an allocation in it that tfjs does not manage, for longiseg's own wasm kernels. */
export function wasmHeap():
  { memory: HeapMemory; allocate(bytes: number): number; free(at: number): void } | undefined {
  const backend = wasmInternals();
  // `>>> 0`: tfjs's own note, offsets above 2 GB come back negative
  return (
    backend && {
      memory: wasmMemoryOf(backend)!,
      allocate: (bytes) => backend.wasm._malloc(bytes) >>> 0,
      free: (at) => backend.wasm._free(at),
    }
  );
}

/**
 * tfjs clones every tensor a custom op saves for its gradient, and the wasm Identity kernel copies
 * the data, so each saved U-Net activation was copied once more per step (time and heap). The cpu
 * and WebGL back ends share the data instead, tensors being immutable; this does the same on wasm.
 */
export function shareIdentityOnWasm(): void {
  if (tf.getKernel('Identity', 'wasm')?.kernelFunc === sharedIdentity) return;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: sharedIdentity });
}

const sharedIdentity: tf.KernelFunc = ({ inputs, backend }) => {
  const x = inputs.x as tf.TensorInfo;
  wasmInternalsOf(backend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};
