import * as tf from '@tensorflow/tfjs';
import { stockKernelsInUse } from '../engine/kernel-choice.js';

export interface DiceOptions {
  smoothNumerator: number;
  smoothDenominator: number;
  /** Leave class 0 out of the mean (the reference code always includes it). */
  excludeBackground?: boolean;
}

/**
 * MONAI DiceLoss(to_onehot_y, softmax) with batch=False: for every (batch item, class),
 * 1 − (2Σ p·y + smooth_nr) / (Σy + Σp + smooth_dr) over voxels, then the mean over items and classes.
 * logits [N, D, H, W, K]; target one-hot [N, D, H, W, K].
 */
export function diceLoss(logits: tf.Tensor5D, oneHot: tf.Tensor, options: DiceOptions): tf.Scalar {
  const [n, , , , k] = logits.shape;
  const probabilities = tf.softmax(logits.reshape([-1, k])).reshape([n, -1, k]);
  const target = oneHot.reshape([n, -1, k]);
  const intersection = probabilities.mul(target).sum(1);
  const denominator = target.sum(1).add(probabilities.sum(1));
  let perClass = tf.scalar(1).sub(intersection.mul(2).add(options.smoothNumerator).div(denominator.add(options.smoothDenominator)));
  if (options.excludeBackground) perClass = perClass.slice([0, 1], [n, k - 1]);
  return perClass.mean() as tf.Scalar;
}

/** Cross-entropy of logits [N, D, H, W, K] against integer labels, mean over voxels. */
export function crossEntropy(logits: tf.Tensor5D, oneHot: tf.Tensor): tf.Scalar {
  const k = logits.shape[4];
  return tf.logSoftmax(logits.reshape([-1, k])).mul(oneHot.reshape([-1, k])).sum(1).mean().neg() as tf.Scalar;
}

export function oneHotLabels(labels: tf.Tensor, classes: number): tf.Tensor {
  return oneHot(labels.flatten().toInt(), classes).reshape([...labels.shape.slice(0, 4), classes]);
}

/**
 * One-hot rows: int32 on the host, float32 on the GPU back ends. tfjs's WebGPU back end casts int32
 * to float32 by relabelling the buffer (so an int32 one-hot used with floats reads as int32 bits),
 * and tfjs's wasm one-hot ignores the float32 dtype in the same way.
 */
function oneHot(indices: tf.Tensor, classes: number): tf.Tensor {
  return stockKernelsInUse() ? tf.oneHot(indices, classes, 1, 0, 'float32') : tf.oneHot(indices, classes);
}

/** Lsup as the reference computes it: MONAI DiceCELoss with the scripts' smoothing (nr 0, dr 1e-3), background included. */
export function diceCrossEntropy(logits: tf.Tensor5D, labels: tf.Tensor, options: DiceOptions = { smoothNumerator: 0, smoothDenominator: 1e-3 }): tf.Scalar {
  const oneHot = oneHotLabels(labels, logits.shape[4]);
  return diceLoss(logits, oneHot, options).add(crossEntropy(logits, oneHot)) as tf.Scalar;
}

/**
 * Lcs as the reference code computes it: ½·Dice(logits_A, argmax(logits_B)) + ½·Dice(logits_B, argmax(logits_A)) with
 * hard, gradient-free targets and MONAI DiceLoss defaults (smoothing 1e-5). logits: A then B on the batch axis.
 * `softTargets` gives the paper's soft-vs-soft variant.
 */
export function consistencyLoss(logits: tf.Tensor5D, softTargets = false): tf.Scalar {
  const half = logits.shape[0] / 2;
  const k = logits.shape[4];
  const [a, b] = tf.split(logits, [half, half], 0) as [tf.Tensor5D, tf.Tensor5D];
  const smoothing = { smoothNumerator: 1e-5, smoothDenominator: 1e-5 };
  const target = (x: tf.Tensor5D) => {
    if (softTargets) return tf.softmax(x.reshape([-1, k])).reshape(x.shape);
    const classes = x.reshape([-1, k]).argMax(1);
    // on the host, the argmax as constant data, so that the backward pass skips it; a GPU cannot
    // read it back synchronously, and tfjs's argmax and one-hot pass no gradient anyway
    const constant = stockKernelsInUse() ? classes : tf.tensor1d(classes.dataSync() as Int32Array, 'int32');
    return oneHot(constant, k).reshape(x.shape);
  };
  return diceLoss(a, target(b), smoothing).add(diceLoss(b, target(a), smoothing)).mul(0.5) as tf.Scalar;
}
