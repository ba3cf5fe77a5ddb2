import * as tf from '@tensorflow/tfjs';

let stockKernels = false;

/** Back ends whose tensors live in host memory, where longiseg's own kernels run; on the others (TensorFlow, WebGPU), tfjs's. */
const HOST_MEMORY_BACKENDS = new Set(['wasm', 'cpu']);

/**
 * Use tfjs's own kernels everywhere. The TensorFlow and WebGPU back ends always do; on wasm and
 * cpu this exists for benchmarks (it is 15–50× slower, and the wasm conv3d input gradient is wrong).
 */
export function useStockKernels(enabled: boolean): void {
  stockKernels = enabled;
}

export function stockKernelsInUse(): boolean {
  return stockKernels || !HOST_MEMORY_BACKENDS.has(tf.getBackend());
}
