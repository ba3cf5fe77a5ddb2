/* Class scores per voxel on the host (predictions and the losses): rows of `classes` values, voxel after voxel. */

/** Label of the largest logit per voxel (the first on ties, as argmax). */
export function argmaxLabels(logits: Float32Array, classes: number): Int32Array {
  const labels = new Int32Array(logits.length / classes);
  for (let v = 0, base = 0; v < labels.length; v++, base += classes) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[base + k] > logits[base + best]) best = k;
    labels[v] = best;
  }
  return labels;
}

/** Softmax over classes, in place. */
export function softmaxInPlace(logits: Float32Array, classes: number): Float32Array {
  for (let base = 0; base < logits.length; base += classes) {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[base + k]);
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += logits[base + k] = Math.exp(logits[base + k] - max);
    for (let k = 0; k < classes; k++) logits[base + k] /= sum;
  }
  return logits;
}
