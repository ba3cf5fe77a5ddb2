import * as tf from '@tensorflow/tfjs';
import { tensorFilled, valuesOf } from './heap.js';
import { chunkCount, SUM_CHUNK, softmaxChunkSums, softmaxGradientRows, sumStride } from './softmax-loops.js';
import { executor, stagedKernels } from './wasm-kernels.js';

/** Per batch item and class (n·K values, item after item): the sums a Dice and cross-entropy loss is made of. */
export interface SoftmaxSums {
  /** p, the softmax of the logits (the same shape). */
  probabilities: tf.Tensor;
  /** Σ p at the voxels of each label. */
  intersection: Float64Array;
  /** Σ p over all voxels. */
  predicted: Float64Array;
  /** Voxels of each label. */
  present: Float64Array;
  /** Σ log p at the label, over every item. */
  logLikelihood: number;
}

/** The cost of a voxel's softmax (exp, log) against a multiply-add, to decide when threads are worth it. */
const EXP_WORK = 16;

/**
 * p = softmax over the last axis of logits [n, …, K], and its sums against integer labels (one per
 * voxel; one outside [0, K) counts for no class) in float64, on the compute threads on wasm.
 */
export function softmaxWithSums(logits: tf.Tensor, labels: Int32Array, n: number): SoftmaxSums {
  const k = logits.shape[logits.rank - 1];
  const voxels = labels.length / n;
  const chunks = new Float64Array(chunkCount(n, voxels) * sumStride(k));
  const probabilities = tensorFilled(logits.shape, (p) => {
    const z = valuesOf(logits);
    const staged = stagedKernels();
    if (!staged) return softmaxChunkSums(z, p, labels, chunks, k, voxels, 0, chunkCount(n, voxels));
    const run = executor();
    const [zAt, pAt] = [run.address(z), run.address(p)];
    staged.call([labels, chunks], (_, [labelsAt, chunksAt]) =>
      run.run(
        'softmaxSums',
        [zAt, pAt, labelsAt, chunksAt, n, k, voxels],
        [0, chunkCount(n, voxels)],
        1,
        EXP_WORK * z.length,
      ),
    );
  });
  const [intersection, predicted, present] = [
    new Float64Array(n * k),
    new Float64Array(n * k),
    new Float64Array(n * k),
  ];
  let logLikelihood = 0;
  const perItem = Math.ceil(voxels / SUM_CHUNK);
  for (let chunk = 0, at = 0; at < chunks.length; chunk++, at += sumStride(k)) {
    const item = Math.floor(chunk / perItem) * k;
    for (let c = 0; c < k; c++) {
      intersection[item + c] += chunks[at + c];
      predicted[item + c] += chunks[at + k + c];
      present[item + c] += chunks[at + 2 * k + c];
    }
    logLikelihood += chunks[at + 3 * k];
  }
  return { probabilities, intersection, predicted, present, logLikelihood };
}

/**
 * The gradient in the logits of a loss on p = softmax(logits), from p: per voxel and class c,
 * p_c·(g_c − Σ_j p_j·g_j) + ce·(p_c − y_c) (no ce term at a voxel of no class), where g = A·y + B
 * is the loss's gradient in p apart from the cross-entropy (`coefficients`: A then B, n·K each, per
 * batch item and class).
 */
export function softmaxLossGradient(
  probabilities: tf.Tensor,
  labels: Int32Array,
  n: number,
  coefficients: Float64Array,
  ce: number,
): tf.Tensor {
  const k = probabilities.shape[probabilities.rank - 1];
  const voxels = labels.length / n;
  return tensorFilled(probabilities.shape, (out) => {
    const p = valuesOf(probabilities);
    const staged = stagedKernels();
    if (!staged) return softmaxGradientRows(p, labels, coefficients, out, k, voxels, ce, 0, labels.length);
    const run = executor();
    const [pAt, outAt] = [run.address(p), run.address(out)];
    staged.call([labels, coefficients], (_, [labelsAt, coefficientsAt]) =>
      run.run(
        'softmaxGradient',
        [pAt, labelsAt, coefficientsAt, outAt, n, k, voxels, ce],
        [0, labels.length],
        64,
        4 * p.length,
      ),
    );
  });
}
