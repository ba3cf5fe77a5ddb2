import { afterAll, describe, expect, test } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { batchNorm, batchNormRelu, type BatchNormState } from '../../src/engine/batch-norm.js';

function state(channels: number): BatchNormState {
  return {
    gamma: tf.variable(tf.linspace(0.5, 1.5, channels)),
    beta: tf.variable(tf.linspace(-0.2, 0.3, channels)),
    runningMean: tf.variable(tf.zeros([channels]), false),
    runningVar: tf.variable(tf.ones([channels]), false),
    batches: 0,
  };
}

/** y, dx, dγ, dβ and the running statistics of one training-mode call, on the current back end. */
function run(norm: typeof batchNorm, values: Float32Array, shape: number[], weights: Float32Array): Float32Array[] {
  const s = state(shape[shape.length - 1]);
  const x = tf.tensor(values, shape);
  const loss = () => norm(x, s, true).mul(tf.tensor(weights, shape)).sum() as tf.Scalar;
  const y = norm(x, state(shape[shape.length - 1]), true);
  const { grads } = tf.variableGrads(loss, [s.gamma!, s.beta!]);
  const dx = tf.grad((input: tf.Tensor) =>
    norm(input, state(shape[shape.length - 1]), true)
      .mul(tf.tensor(weights, shape))
      .sum(),
  )(x);
  return [y, dx, grads[s.gamma!.name], grads[s.beta!.name], s.runningMean, s.runningVar].map(
    (t) => t.dataSync() as Float32Array,
  );
}

describe('BatchNorm: the wasm kernels (kernels.wat) against the float64 JS loops of the cpu back end', () => {
  afterAll(() => initBackend('wasm'));

  test.each([
    [[2, 3, 4, 5, 8], 'kernels'],
    [[300, 12], 'kernels'],
    [[2, 3, 3, 3, 6], 'JS loops on both (6 channels)'],
  ])(
    'shape %j (%s): outputs, all gradients and running statistics agree to 1e-5, with and without ReLU',
    async (shape) => {
      const size = shape.reduce((a, b) => a * b);
      const values = tf.randomNormal([size], 0.3, 2, 'float32', 7).dataSync() as Float32Array;
      const weights = tf.randomNormal([size], 0, 1, 'float32', 8).dataSync() as Float32Array;
      for (const norm of [batchNorm, batchNormRelu]) {
        await tf.setBackend('cpu');
        const want = run(norm, values, shape, weights);
        await initBackend('wasm');
        const got = run(norm, values, shape, weights);
        got.forEach((g, i) => {
          const scale = Math.max(1e-3, ...want[i].map(Math.abs));
          expect(Math.max(...g.map((v, j) => Math.abs(v - want[i][j]))) / scale).toBeLessThan(1e-5);
        });
      }
    },
  );
});
