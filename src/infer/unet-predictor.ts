import * as tf from '@tensorflow/tfjs';
import type { UNet } from '../model/unet.js';
import type { PatchPredictor } from './sliding-window.js';

/** The U-Net in evaluation mode (BatchNorm on running statistics) as a patch predictor. */
export function unetPredictor(unet: UNet): PatchPredictor {
  return (patches, count, [px, py, pz]) =>
    tf.tidy(() => {
      const input = tf.tensor5d(patches, [count, pz, py, px, unet.config.inputChannels]);
      return unet.forward(input, { training: false }).logits.dataSync() as Float32Array;
    });
}
