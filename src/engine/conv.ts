import * as tf from '@tensorflow/tfjs';
import { conv3dReflect, conv3dReflectStock } from './conv3d.js';

let stockKernels = false;

/**
 * Use tfjs's own conv3d and matMul gradients everywhere. The TensorFlow back end always does; on
 * wasm and cpu this exists for benchmarks (it is 15–50× slower, and the wasm conv3d input gradient
 * is wrong).
 */
export function useStockKernels(enabled: boolean): void {
  stockKernels = enabled;
}

export function stockKernelsInUse(): boolean {
  return stockKernels || tf.getBackend() === 'tensorflow';
}

/** The U-Net's convolution: native tfjs kernels on the TensorFlow back end, vol2col elsewhere. */
export function conv3dSame(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  return stockKernelsInUse() ? conv3dReflectStock(x, w) : conv3dReflect(x, w);
}
