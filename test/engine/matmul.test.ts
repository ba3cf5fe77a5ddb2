import { afterAll, describe, expect, test } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { matMul } from '../../src/engine/matmul.js';

/** [m, k, n]: rows beyond a multiple of 4, columns beyond a multiple of 8, k beyond one copied block of rows (64). */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 8],
  [9, 17, 13],
  [13, 130, 33],
  [36, 64, 48],
];

describe('matMul (kernels.wat gemm on wasm) against the stock tfjs cpu kernel', () => {
  afterAll(() => initBackend('wasm'));

  test.each(SHAPES)(
    'm %i, k %i, n %i, with every combination of transposed operands, to 1e-5 relative',
    async (m, k, n) => {
      for (const [transposeA, transposeB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const a = tf.randomNormal(transposeA ? [k, m] : [m, k], 0, 1, 'float32', m).dataSync() as Float32Array;
        const b = tf.randomNormal(transposeB ? [n, k] : [k, n], 0, 1, 'float32', n).dataSync() as Float32Array;
        const product = (): Float32Array =>
          tf.tidy(
            () =>
              matMul(
                tf.tensor2d(a, transposeA ? [k, m] : [m, k]),
                tf.tensor2d(b, transposeB ? [n, k] : [k, n]),
                transposeA,
                transposeB,
              ).dataSync() as Float32Array,
          );
        await tf.setBackend('cpu');
        const want = product();
        await initBackend('wasm');
        const got = product();
        expect(got.length).toBe(m * n);
        const scale = Math.max(...want.map(Math.abs));
        const error = Math.max(...got.map((g, i) => Math.abs(g - want[i])));
        expect(error / scale).toBeLessThan(1e-5);
      }
    },
  );

  test('inner dimensions that differ are refused', async () => {
    await initBackend('wasm');
    expect(() => matMul(tf.zeros([2, 3]), tf.zeros([4, 5]))).toThrow(
      'matMul: inner dimensions of [2,3] and [4,5] differ',
    );
  });
});
