import * as tf from '@tensorflow/tfjs';
import { conv3dReflect, conv3dReflectStock } from './conv3d.js';

/** The U-Net's convolution: native tfjs kernels on the TensorFlow back end, vol2col elsewhere. */
export function conv3dSame(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  return tf.getBackend() === 'tensorflow' ? conv3dReflectStock(x, w) : conv3dReflect(x, w);
}
