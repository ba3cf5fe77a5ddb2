import { describe, expect, test } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { consistencyLoss, crossEntropy, diceCrossEntropy, diceLoss, oneHotLabels, type DiceOptions } from '../../src/losses/segmentation.js';
import { Random } from '../../src/runtime/random.js';

describe.each(['wasm', 'cpu'] as const)('Dice+CE in one pass on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  const options: [string, DiceOptions][] = [
    ['the reference smoothing, background included', { smoothNumerator: 0, smoothDenominator: 1e-3 }],
    ['MONAI smoothing, background excluded', { smoothNumerator: 1e-5, smoothDenominator: 1e-5, excludeBackground: true }],
  ];
  test.each(options)('equals the tfjs composition of Dice, softmax and cross-entropy in value and gradient: %s', (_, dice) => {
    const random = new Random(3);
    const shape = [2, 8, 6, 10];
    const logits = tf.tensor5d(Float32Array.from({ length: 2 * 8 * 6 * 10 * 5 }, () => 4 * (random.next() - 0.5)), [...shape, 5] as [number, number, number, number, number]);
    // -1, 5 and 6 are no class (tf.oneHot gives them a zero row)
    const labels = tf.tensor4d(Int32Array.from({ length: 2 * 8 * 6 * 10 }, () => random.integer(-1, 6)), shape as [number, number, number, number], 'int32');
    const composed = (l: tf.Tensor) => {
      const oneHot = oneHotLabels(labels, 5);
      return diceLoss(l as tf.Tensor5D, oneHot, dice).add(crossEntropy(l as tf.Tensor5D, oneHot));
    };
    const run = (loss: (l: tf.Tensor) => tf.Tensor) => {
      const { value, grads } = tf.valueAndGrads((l: tf.Tensor) => loss(l).mul(3) as tf.Scalar)([logits]);
      return { value: value.dataSync()[0], gradient: grads[0].dataSync() };
    };
    const fused = run((l) => diceCrossEntropy(l as tf.Tensor5D, labels, dice));
    const reference = run(composed);
    expect(fused.value).toBeCloseTo(reference.value, 5);
    const scale = Math.max(...reference.gradient.map(Math.abs));
    expect(scale).toBeGreaterThan(1e-4);
    expect(Math.max(...fused.gradient.map((g, i) => Math.abs(g - reference.gradient[i])))).toBeLessThan(1e-5 * scale);
  });

  test('Lcs equals ½ Dice(A, argmax B) + ½ Dice(B, argmax A) from tfjs ops, in value and gradient', () => {
    const random = new Random(4);
    const logits = tf.tensor5d(Float32Array.from({ length: 4 * 6 * 6 * 6 * 5 }, () => 4 * (random.next() - 0.5)), [4, 6, 6, 6, 5]);
    const smoothing = { smoothNumerator: 1e-5, smoothDenominator: 1e-5 };
    const [a, b] = tf.split(logits, 2, 0) as [tf.Tensor5D, tf.Tensor5D];
    const [targetOfA, targetOfB] = [b, a].map((x) => oneHotLabels(x.argMax(4), 5));
    const composed = (l: tf.Tensor) => {
      const [la, lb] = tf.split(l, 2, 0) as [tf.Tensor5D, tf.Tensor5D];
      return diceLoss(la, targetOfA, smoothing).add(diceLoss(lb, targetOfB, smoothing)).mul(0.5);
    };
    const run = (loss: (l: tf.Tensor) => tf.Tensor) => {
      const { value, grads } = tf.valueAndGrads((l: tf.Tensor) => loss(l) as tf.Scalar)([logits]);
      return { value: value.dataSync()[0], gradient: grads[0].dataSync() };
    };
    const [fused, reference] = [run((l) => consistencyLoss(l as tf.Tensor5D)), run(composed)];
    expect(fused.value).toBeCloseTo(reference.value, 5);
    const scale = Math.max(...reference.gradient.map(Math.abs));
    expect(scale).toBeGreaterThan(1e-4);
    expect(Math.max(...fused.gradient.map((g, i) => Math.abs(g - reference.gradient[i])))).toBeLessThan(1e-5 * scale);
  });
});
