import * as tf from '@tensorflow/tfjs';
import { readFloats } from '../engine/reads.js';
import type { UNet } from '../model/unet.js';
import type { PatchPredictor } from './sliding-window.js';

/** The U-Net in evaluation mode (BatchNorm on running statistics) as a patch predictor. */
export function unetPredictor(unet: UNet): PatchPredictor {
  return async (patches, count, [px, py, pz]) => {
    // read outside tidy: tidy walks whatever it returns, element by element for a typed array
    const logits = tf.tidy(
      () =>
        unet.forward(tf.tensor5d(patches, [count, pz, py, px, unet.config.inputChannels]), { training: false }).logits,
    );
    try {
      // read asynchronously: a GPU back end cannot read synchronously
      return await readFloats(logits);
    } finally {
      logits.dispose();
    }
  };
}
