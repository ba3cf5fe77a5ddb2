/*
 * The loops of the fused Dice + cross-entropy (engine/softmax-passes.ts) on rows of K class scores,
 * voxel after voxel, batch item after batch item. They run on the compute threads on views of the
 * wasm heap (engine/parallel-tasks.ts), or on plain arrays.
 */

/**
 * Voxels per chunk of the sums. Each chunk's sums are taken in voxel order and the chunks' sums
 * added in chunk order, so the result is the same on any number of threads.
 */
export const SUM_CHUNK = 4096;

/** Float64 values per chunk: Σ p at the label per class, Σ p per class, voxels per label, Σ log p at the label. */
export const sumStride = (classes: number): number => 3 * classes + 1;

/** Chunks of n batch items of `voxels` voxels (a chunk never spans two items). */
export const chunkCount = (n: number, voxels: number): number => n * Math.ceil(voxels / SUM_CHUNK);

/**
 * Softmax of logits z [n·voxels, K] into p for the chunks [start, end), and their sums, taken in
 * float64, into `sums` (sumStride(K) per chunk). A label outside [0, K) counts for no class.
 */
export function softmaxChunkSums(
  z: Float32Array,
  p: Float32Array,
  labels: Int32Array,
  sums: Float64Array,
  classes: number,
  voxels: number,
  start: number,
  end: number,
): void {
  const k = classes;
  const perItem = Math.ceil(voxels / SUM_CHUNK);
  const e = new Float64Array(k);
  for (let chunk = start; chunk < end; chunk++) {
    const item = Math.floor(chunk / perItem);
    const first = item * voxels + (chunk % perItem) * SUM_CHUNK;
    const last = Math.min(first + SUM_CHUNK, (item + 1) * voxels);
    const at = chunk * sumStride(k);
    sums.fill(0, at, at + sumStride(k));
    for (let v = first; v < last; v++) {
      const row = v * k;
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, z[row + c]);
      let total = 0;
      for (let c = 0; c < k; c++) total += e[c] = Math.exp(z[row + c] - max);
      for (let c = 0; c < k; c++) {
        const probability = e[c] / total;
        p[row + c] = probability;
        sums[at + k + c] += probability;
      }
      const y = labels[v];
      if (y >= 0 && y < k) {
        sums[at + y] += e[y] / total;
        sums[at + 2 * k + y] += 1;
        sums[at + 3 * k] += z[row + y] - max - Math.log(total);
      }
    }
  }
}

/**
 * The loss gradient in the logits for the voxels [start, end), from p = softmax(logits): per voxel
 * and class c, p_c·(g_c − Σ_j p_j·g_j) + ce·(p_c − y_c), where g = A·y + B is the gradient in p of
 * the Dice term (`coefficients`: A then B, n·K each) and `ce` the cross-entropy's scale (0 at a voxel
 * of no class). At the label's class, 1 − p_y is taken as Σ_{c≠y} p_c in float64: p_y − 1 in
 * float32 loses every digit where p_y is near 1.
 */
export function softmaxGradientRows(
  p: Float32Array,
  labels: Int32Array,
  coefficients: Float64Array,
  out: Float32Array,
  classes: number,
  voxels: number,
  ce: number,
  start: number,
  end: number,
): void {
  const k = classes;
  const bias = coefficients.length / 2;
  for (let v = start; v < end; v++) {
    const [row, item] = [v * k, Math.floor(v / voxels) * k];
    const y = labels[v];
    // Σ p and Σ B·p over the classes other than the label
    let [others, othersWeighted] = [0, 0];
    for (let c = 0; c < k; c++) {
      if (c === y) continue;
      others += p[row + c];
      othersWeighted += coefficients[bias + item + c] * p[row + c];
    }
    if (y < 0 || y >= k) {
      for (let c = 0; c < k; c++) out[row + c] = p[row + c] * (coefficients[bias + item + c] - othersWeighted);
      continue;
    }
    const [a, b] = [coefficients[item + y], coefficients[bias + item + y]];
    const weighted = (a + b) * p[row + y] + othersWeighted;
    for (let c = 0; c < k; c++) out[row + c] = p[row + c] * (coefficients[bias + item + c] - weighted + ce);
    out[row + y] = p[row + y] * ((a + b) * others - othersWeighted) - ce * others;
  }
}
