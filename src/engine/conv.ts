import * as tf from '@tensorflow/tfjs';
import { conv3dReflect, conv3dReflectStock } from './conv3d.js';
import { stockKernelsInUse } from './kernel-choice.js';

/** The U-Net's convolution: tfjs's kernels on the TensorFlow and WebGPU back ends, vol2col on the others. */
export function conv3dSame(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  return stockKernelsInUse() ? conv3dReflectStock(x, w) : conv3dReflect(x, w);
}
