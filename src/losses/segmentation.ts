import * as tf from '@tensorflow/tfjs';

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
  return tf.oneHot(labels.flatten().toInt(), classes).reshape([...labels.shape.slice(0, 4), classes]);
}

/** Lsup (method.md §3.7): MONAI DiceCELoss with the scripts' smoothing (nr 0, dr 1e-3), background included. */
export function diceCrossEntropy(logits: tf.Tensor5D, labels: tf.Tensor, options: DiceOptions = { smoothNumerator: 0, smoothDenominator: 1e-3 }): tf.Scalar {
  const oneHot = oneHotLabels(labels, logits.shape[4]);
  return diceLoss(logits, oneHot, options).add(crossEntropy(logits, oneHot)) as tf.Scalar;
}

/**
 * Lcs (method.md §3.8): ½·Dice(logits_A, argmax(logits_B)) + ½·Dice(logits_B, argmax(logits_A)) with
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
    // argmax of constant data: no gradient reaches the target
    return tf.oneHot(tf.tensor1d(x.reshape([-1, k]).argMax(1).dataSync() as Int32Array, 'int32'), k).reshape(x.shape);
  };
  return diceLoss(a, target(b), smoothing).add(diceLoss(b, target(a), smoothing)).mul(0.5) as tf.Scalar;
}
