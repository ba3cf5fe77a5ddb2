import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { covarianceLoss, orthogonalityLoss, varianceLoss } from '../../src/losses/self-supervised.js';
import { consistencyLoss } from '../../src/losses/segmentation.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('self-supervised losses on hand-computable inputs', () => {
  test('orthogonality: the code squares the cosine, the paper variant does not', () => {
    const e = tf.tensor2d([
      [1, 0],
      [0, 2],
    ]);
    const d = tf.tensor2d([
      [1, 1],
      [0, -3],
    ]);
    // cosines: 1/√2 and −1
    expect(orthogonalityLoss(e, d).dataSync()[0]).toBeCloseTo((0.5 + 1) / 2, 5);
    expect(orthogonalityLoss(e, d, false).dataSync()[0]).toBeCloseTo((Math.SQRT1_2 - 1) / 2, 5);
  });

  test('covariance: perfectly correlated channels, and uncorrelated ones', () => {
    const timepoint = [
      [1, 1],
      [-1, -1],
      [2, 2],
      [-2, -2],
    ];
    // Cov = [[10/3, 10/3], [10/3, 10/3]]: off-diagonal Σ = 2·(10/3)², / width 2, for A and B
    expect(covarianceLoss(tf.tensor2d([...timepoint, ...timepoint])).dataSync()[0]).toBeCloseTo(2 * (100 / 9), 4);
    const uncorrelated = [
      [1, 0],
      [0, 1],
      [-1, 0],
      [0, -1],
    ];
    expect(covarianceLoss(tf.tensor2d([...uncorrelated, ...uncorrelated])).dataSync()[0]).toBeCloseTo(0, 6);
  });

  test('variance hinge: max(0, 1 − √(var + 1e-4)) per channel', () => {
    // channel 0 has unbiased variance 0.25 → std ≈ 0.5002; channel 1 is constant → std 0.01
    const rows = [
      [0.5, 3],
      [-0.5, 3],
      [0.5, 3],
      [-0.5, 3],
    ];
    const expected = (1 - Math.sqrt(1 / 3 + 1e-4) + (1 - Math.sqrt(1e-4))) / 2;
    expect(varianceLoss(tf.tensor2d([...rows, ...rows])).dataSync()[0]).toBeCloseTo(expected, 5);
  });

  test('consistency: identical confident predictions cost almost nothing, swapped ones almost 1', () => {
    const confident = (label: number) =>
      tf
        .oneHot(tf.fill([8], label, 'int32'), 2)
        .mul(20)
        .reshape([1, 2, 2, 2, 2]);
    const same = tf.concat([confident(1), confident(1)], 0) as tf.Tensor5D;
    const swapped = tf.concat([confident(0), confident(1)], 0) as tf.Tensor5D;
    // smoothing 1e-5 on both sides: the class absent from both maps scores 1 − 1e-5/1e-5 = 0
    expect(consistencyLoss(same).dataSync()[0]).toBeLessThan(1e-3);
    expect(consistencyLoss(swapped).dataSync()[0]).toBeGreaterThan(0.99);
  });
});
