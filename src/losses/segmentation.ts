import * as tf from '@tensorflow/tfjs';
import { valuesOf } from '../engine/heap.js';
import { stockKernelsInUse } from '../engine/kernel-choice.js';
import { argmaxLabels } from '../engine/logits.js';
import { customOp } from '../engine/ops.js';
import { softmaxLossGradient, softmaxWithSums } from '../engine/softmax-passes.js';

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
  let perClass = tf
    .scalar(1)
    .sub(intersection.mul(2).add(options.smoothNumerator).div(denominator.add(options.smoothDenominator)));
  if (options.excludeBackground) perClass = perClass.slice([0, 1], [n, k - 1]);
  return perClass.mean() as tf.Scalar;
}

/** Cross-entropy of logits [N, D, H, W, K] against integer labels, mean over voxels. */
export function crossEntropy(logits: tf.Tensor5D, oneHot: tf.Tensor): tf.Scalar {
  const k = logits.shape[4];
  return tf
    .logSoftmax(logits.reshape([-1, k]))
    .mul(oneHot.reshape([-1, k]))
    .sum(1)
    .mean()
    .neg() as tf.Scalar;
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
export function diceCrossEntropy(
  logits: tf.Tensor5D,
  labels: tf.Tensor,
  options: DiceOptions = { smoothNumerator: 0, smoothDenominator: 1e-3 },
): tf.Scalar {
  if (!stockKernelsInUse()) {
    const values = labels.dataSync();
    return diceCrossEntropyOnHost(logits, values instanceof Int32Array ? values : Int32Array.from(values), options, 1);
  }
  const oneHot = oneHotLabels(labels, logits.shape[4]);
  return diceLoss(logits, oneHot, options).add(crossEntropy(logits, oneHot)) as tf.Scalar;
}

/**
 * Dice + crossEntropyWeight·CE from one pass over the logits (softmax and its sums) and one over p
 * for the gradient, on the compute threads, sums in float64 (engine/softmax-passes.ts): tfjs's softmax, log-softmax, one-hot and reductions are separate
 * single-threaded kernels on wasm, each keeping its result for the backward pass. A label outside
 * [0, K) is no class, as in tf.oneHot.
 */
function diceCrossEntropyOnHost(
  logits: tf.Tensor5D,
  labels: Int32Array,
  options: DiceOptions,
  crossEntropyWeight: 0 | 1,
): tf.Scalar {
  const [n, , , , k] = logits.shape;
  const first = options.excludeBackground ? 1 : 0;
  const op = customOp<(x: tf.Tensor5D) => tf.Scalar>((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const { probabilities, intersection, predicted, present, logLikelihood } = softmaxWithSums(x, labels, n);
    // tfjs's tidy around this forward pass frees p unless the tape keeps it for the gradient
    save([probabilities]);
    // the Dice term and its gradient in p, A·y + B per (item, class); 0 for an excluded background
    const counted = n * (k - first);
    const coefficients = new Float64Array(2 * n * k);
    let dice = 0;
    for (let i = 0; i < n * k; i++) {
      if (i % k < first) continue;
      const denominator = present[i] + predicted[i] + options.smoothDenominator;
      const numerator = 2 * intersection[i] + options.smoothNumerator;
      dice += 1 - numerator / denominator;
      coefficients[i] = -2 / (counted * denominator);
      coefficients[n * k + i] = numerator / (counted * denominator * denominator);
    }
    return {
      value: tf.scalar(dice / counted - (crossEntropyWeight * logLikelihood) / labels.length),
      gradFunc: (dy: tf.Tensor, [p]: tf.Tensor[]) => {
        const scale = dy.dataSync()[0];
        return [
          softmaxLossGradient(
            p,
            labels,
            n,
            coefficients.map((c) => c * scale),
            (crossEntropyWeight * scale) / labels.length,
          ),
        ];
      },
    };
  });
  return op(logits);
}

/**
 * Lcs as the reference code computes it: ½·Dice(logits_A, argmax(logits_B)) + ½·Dice(logits_B, argmax(logits_A)) with
 * hard, gradient-free targets and MONAI DiceLoss defaults (smoothing 1e-5). logits: A then B on the batch axis.
 * `softTargets` gives the paper's soft-vs-soft variant.
 */
export function consistencyLoss(logits: tf.Tensor5D, softTargets = false): tf.Scalar {
  const half = logits.shape[0] / 2;
  const k = logits.shape[4];
  const smoothing = { smoothNumerator: 1e-5, smoothDenominator: 1e-5 };
  // the mean of the two halves' Dice losses is the Dice loss of the whole batch against the other half's argmax
  if (!softTargets && !stockKernelsInUse())
    return diceCrossEntropyOnHost(logits, swappedArgmax(valuesOf(logits), k), smoothing, 0);
  const [a, b] = tf.split(logits, [half, half], 0) as [tf.Tensor5D, tf.Tensor5D];
  const target = (x: tf.Tensor5D) => {
    if (softTargets) return tf.softmax(x.reshape([-1, k])).reshape(x.shape);
    // tfjs's argmax and one-hot pass no gradient
    return oneHot(x.reshape([-1, k]).argMax(1), k).reshape(x.shape);
  };
  return diceLoss(a, target(b), smoothing)
    .add(diceLoss(b, target(a), smoothing))
    .mul(0.5) as tf.Scalar;
}

/** The argmax labels of each half of the batch, given to the other half. */
function swappedArgmax(logits: Float32Array, k: number): Int32Array {
  const labels = argmaxLabels(logits, k);
  const half = labels.length / 2;
  const swapped = new Int32Array(labels.length);
  swapped.set(labels.subarray(half));
  swapped.set(labels.subarray(0, half), half);
  return swapped;
}
