import { describe, expect, test } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import {
  consistencyLoss,
  crossEntropy,
  diceCrossEntropy,
  diceLoss,
  oneHotLabels,
  type DiceOptions,
} from '../../src/losses/segmentation.js';
import { Random } from '../../src/runtime/random.js';

/**
 * Expects `fused` and `reference` to give the same value (5 decimals) and gradient (to 1e-5 of its
 * largest entry, which must not vanish) on `logits`; the loss is scaled by `scale` to check the
 * backward pass passes dy on.
 */
function expectSameLossAndGradient(
  fused: (l: tf.Tensor5D) => tf.Tensor,
  reference: (l: tf.Tensor5D) => tf.Tensor,
  logits: tf.Tensor5D,
  scale = 1,
): void {
  const run = (loss: (l: tf.Tensor5D) => tf.Tensor) => {
    const { value, grads } = tf.valueAndGrads((l: tf.Tensor) => loss(l as tf.Tensor5D).mul(scale) as tf.Scalar)([
      logits,
    ]);
    return { value: value.dataSync()[0], gradient: grads[0].dataSync() };
  };
  const [got, want] = [run(fused), run(reference)];
  expect(got.value).toBeCloseTo(want.value, 5);
  const largest = Math.max(...want.gradient.map(Math.abs));
  expect(largest).toBeGreaterThan(1e-4);
  expect(Math.max(...got.gradient.map((g, i) => Math.abs(g - want.gradient[i])))).toBeLessThan(1e-5 * largest);
}

describe.each(['wasm', 'cpu'] as const)('Dice+CE in one pass on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  const options: [string, DiceOptions][] = [
    ['the reference smoothing, background included', { smoothNumerator: 0, smoothDenominator: 1e-3 }],
    [
      'MONAI smoothing, background excluded',
      { smoothNumerator: 1e-5, smoothDenominator: 1e-5, excludeBackground: true },
    ],
  ];
  test.each(options)(
    'equals the tfjs composition of Dice, softmax and cross-entropy in value and gradient: %s',
    (_, dice) => {
      const random = new Random(3);
      const shape = [2, 8, 6, 10];
      const logits = tf.tensor5d(
        Float32Array.from({ length: 2 * 8 * 6 * 10 * 5 }, () => 4 * (random.next() - 0.5)),
        [...shape, 5] as [number, number, number, number, number],
      );
      // -1, 5 and 6 are no class (tf.oneHot gives them a zero row)
      const labels = tf.tensor4d(
        Int32Array.from({ length: 2 * 8 * 6 * 10 }, () => random.integer(-1, 6)),
        shape as [number, number, number, number],
        'int32',
      );
      const composed = (l: tf.Tensor5D) => {
        const oneHot = oneHotLabels(labels, 5);
        return diceLoss(l, oneHot, dice).add(crossEntropy(l, oneHot));
      };
      expectSameLossAndGradient((l) => diceCrossEntropy(l, labels, dice), composed, logits, 3);
    },
  );

  test('keeps no tensor after its value alone or its value and gradient', () => {
    const random = new Random(5);
    const logits = tf.tensor5d(
      Float32Array.from({ length: 2 * 4 * 4 * 4 * 3 }, () => random.next()),
      [2, 4, 4, 4, 3],
    );
    const labels = tf.tensor4d(
      Int32Array.from({ length: 2 * 4 * 4 * 4 }, () => random.integer(0, 2)),
      [2, 4, 4, 4],
      'int32',
    );
    const before = tf.memory().numTensors;
    diceCrossEntropy(logits, labels).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const { value, grads } = tf.valueAndGrads((l: tf.Tensor) => diceCrossEntropy(l as tf.Tensor5D, labels))([logits]);
    tf.dispose([value, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('Lcs equals ½ Dice(A, argmax B) + ½ Dice(B, argmax A) from tfjs ops, in value and gradient', () => {
    const random = new Random(4);
    const logits = tf.tensor5d(
      Float32Array.from({ length: 4 * 6 * 6 * 6 * 5 }, () => 4 * (random.next() - 0.5)),
      [4, 6, 6, 6, 5],
    );
    const smoothing = { smoothNumerator: 1e-5, smoothDenominator: 1e-5 };
    const [a, b] = tf.split(logits, 2, 0) as [tf.Tensor5D, tf.Tensor5D];
    const [targetOfA, targetOfB] = [b, a].map((x) => oneHotLabels(x.argMax(4), 5));
    const composed = (l: tf.Tensor5D) => {
      const [la, lb] = tf.split(l, 2, 0) as [tf.Tensor5D, tf.Tensor5D];
      return diceLoss(la, targetOfA, smoothing)
        .add(diceLoss(lb, targetOfB, smoothing))
        .mul(0.5);
    };
    expectSameLossAndGradient((l) => consistencyLoss(l), composed, logits);
  });
});
