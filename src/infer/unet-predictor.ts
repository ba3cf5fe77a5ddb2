import * as tf from '@tensorflow/tfjs';
import { checkGpuDevice } from '../engine/webgpu.js';
import type { UNet } from '../model/unet.js';
import type { PatchPredictor } from './sliding-window.js';

/** The U-Net in evaluation mode (BatchNorm on running statistics) as a patch predictor. */
export function unetPredictor(unet: UNet): PatchPredictor {
  return async (patches, count, [px, py, pz]) => {
    // read outside tidy: tidy walks whatever it returns, element by element for a typed array
    const logits = tf.tidy(() => unet.forward(tf.tensor5d(patches, [count, pz, py, px, unet.config.inputChannels]), { training: false }).logits);
    try {
      // data(), not dataSync(): a GPU back end reads asynchronously only
      const values = (await logits.data()) as Float32Array;
      checkGpuDevice();
      return values;
    } finally {
      logits.dispose();
    }
  };
}
