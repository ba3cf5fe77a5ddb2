import { describe, expect, test } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { concatChannels, upsampleNearest2 } from '../../src/engine/ops.js';
import { setComputeThreads } from '../../src/engine/wasm-kernels.js';
import { Random } from '../../src/runtime/random.js';

/** A tensor of seeded uniform values. */
function random(shape: number[], seed: number): tf.Tensor {
  const values = new Random(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => values.next() - 0.5),
    shape,
  );
}

/** Nearest ×2 upsampling by index arithmetic, voxel by voxel. */
function upsampleByIndex(x: Float32Array, [n, d, h, w, c]: number[]): Float32Array {
  const out = new Float32Array(8 * x.length);
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let z = 0; z < 2 * d; z++)
      for (let y = 0; y < 2 * h; y++)
        for (let xx = 0; xx < 2 * w; xx++)
          for (let ch = 0; ch < c; ch++) out[o++] = x[(((b * d + (z >> 1)) * h + (y >> 1)) * w + (xx >> 1)) * c + ch];
  return out;
}

describe.each([
  ['wasm', 1],
  ['wasm', 2],
  ['cpu', 1],
] as const)('host ops on %s, %i thread(s)', (backend, threads) => {
  beforeAll(async () => {
    await initBackend(backend, () => {}, threads);
    setComputeThreads(threads);
  });

  test('concatChannels puts the skip first and splits the gradient back', () => {
    const shape = [2, 16, 16, 17]; // above the work that is split over threads
    const [a, b] = [random([...shape, 8], 1), random([...shape, 12], 2)];
    const weights = random([...shape, 20], 3);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      concatChannels(p as tf.Tensor5D, q as tf.Tensor5D)
        .mul(weights)
        .sum(),
    )([a, b]);
    const joined = concatChannels(a as tf.Tensor5D, b as tf.Tensor5D);
    expect(joined.shape).toEqual([...shape, 20]);
    const [rowsA, rowsB, rowsJ, rowsW] = [a, b, joined, weights].map(
      (t) => t.reshape([-1, t.shape[4]!]).arraySync() as number[][],
    );
    expect(rowsJ).toEqual(rowsA.map((row, i) => [...row, ...rowsB[i]]));
    expect(ga.reshape([-1, 8]).arraySync()).toEqual(rowsW.map((row) => row.slice(0, 8)));
    expect(gb.reshape([-1, 12]).arraySync()).toEqual(rowsW.map((row) => row.slice(8)));
  });

  test('upsampleNearest2 copies each voxel eight times; its gradient sums the eight', () => {
    const shape = [2, 8, 8, 9, 16];
    const x = random(shape, 4);
    expect(Array.from(upsampleNearest2(x as tf.Tensor5D).dataSync())).toEqual(
      Array.from(upsampleByIndex(x.dataSync() as Float32Array, shape)),
    );
    const weights = random([2, 16, 16, 18, 16], 5);
    const gradient = tf
      .grad((p: tf.Tensor) =>
        upsampleNearest2(p as tf.Tensor5D)
          .mul(weights)
          .sum(),
      )(x)
      .dataSync();
    const w = weights.dataSync();
    const [n, d, h, wd, c] = shape;
    const expected = new Float32Array(x.size);
    let o = 0;
    for (let b = 0; b < n; b++)
      for (let z = 0; z < 2 * d; z++)
        for (let y = 0; y < 2 * h; y++)
          for (let xx = 0; xx < 2 * wd; xx++)
            for (let ch = 0; ch < c; ch++)
              expected[(((b * d + (z >> 1)) * h + (y >> 1)) * wd + (xx >> 1)) * c + ch] += w[o++];
    expect(Array.from(gradient)).toEqual(Array.from(expected));
  });
});
