import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { customOp } from '../../src/engine/ops.js';

/** Identity whose gradient function reports the bytes held by tensors when the backward walk reaches it. */
function probe(seen: number[]) {
  return customOp<(x: tf.Tensor) => tf.Tensor>((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return {
      value: x.clone(),
      gradFunc: (dy: tf.Tensor) => {
        seen.push(tf.memory().numBytes);
        return [dy.clone()];
      },
    };
  });
}

describe('backward pass memory (engine/backprop.ts)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('frees each gradient and saved tensor once the walk has used it', () => {
    const [size, layers] = [1 << 16, 40];
    const bytes = 4 * size;
    const x = tf.variable(tf.randomNormal([size], 0, 1, 'float32', 1));
    const seen: number[] = [];
    const atStart = tf.memory().numBytes;
    const { value, grads } = tf.variableGrads(() => {
      let h = probe(seen)(x);
      // relu saves its input, sin its input: 40 saved activations and 80 gradients of this size
      for (let i = 0; i < layers; i++) h = tf.sin(tf.relu(h));
      return h.sum() as tf.Scalar;
    }, [x]);
    // kept by tfjs until the end of the walk, all of this would be ~120 tensors of `bytes`
    expect(seen[0] - atStart).toBeLessThan(8 * bytes);

    const expected = tf.tidy(() => {
      let h: tf.Tensor = x;
      const chain: tf.Tensor[] = [];
      for (let i = 0; i < layers; i++) {
        chain.push(h);
        h = tf.sin(tf.relu(h));
      }
      // d/dh sin(relu(h)) = cos(relu(h))·[h > 0], multiplied down the chain
      return chain.reduceRight((g, hi) => g.mul(tf.cos(tf.relu(hi))).mul(tf.step(hi)), tf.onesLike(x));
    });
    expect(tf.max(tf.abs(grads[x.name].sub(expected))).dataSync()[0]).toBeLessThan(1e-6);
    value.dispose();
    tf.dispose([grads[x.name], expected, x]);
  });

  it('leaves the caller its dy and its input gradients', () => {
    const x = tf.tensor1d([1, -2, 3]);
    const dy = tf.tensor1d([1, 2, 3]);
    const gradient = tf.grad((a: tf.Tensor) => tf.relu(a).mul(2))(x, dy);
    expect(Array.from(gradient.dataSync())).toEqual([2, 0, 6]);
    expect(dy.isDisposed).toBe(false);
    expect(Array.from(dy.dataSync())).toEqual([1, 2, 3]);
    // a gradient that hands its dy on unchanged (identity), summed from two paths
    const passOn = customOp<(a: tf.Tensor) => tf.Tensor>((a: tf.Tensor, save: tf.GradSaveFunc) => {
      save([]);
      return { value: a.clone(), gradFunc: (g: tf.Tensor) => [g] };
    });
    const twice = tf.grad((a: tf.Tensor) => passOn(passOn(a)).add(passOn(a)).sum())(x);
    expect(Array.from(twice.dataSync())).toEqual([2, 2, 2]);
  });
});
