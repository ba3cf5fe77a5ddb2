import * as tf from '@tensorflow/tfjs';
import { tensorFilled, valuesOf } from './heap.js';
import { stockKernelsInUse } from './kernel-choice.js';
import { matMul } from './matmul.js';
import { typedCustomGrad } from './tfjs-internals.js';
import { executor } from './wasm-kernels.js';

/**
 * Small differentiable ops for [N, D, H, W, C] tensors, written so that no slow path of the wasm
 * back end is hit: rank-5 concat, slice, transpose and reverse gradients are slow there, and so is
 * tfjs's matMul with a transpose flag (20–50×).
 */

type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];

/** tf.customGrad with the callback typed by its real arguments (tfjs types them as a variadic union). */
export function customOp<F extends (...args: never[]) => tf.Tensor>(
  f: (...args: never[]) => { value: tf.Tensor; gradFunc: GradFunc },
): F {
  return typedCustomGrad<F>(f);
}

/** Identity whose gradient is zero: the stop-gradient of SimSiam (tfjs has no tf.stopGradient). */
export const detach = customOp<<T extends tf.Tensor>(x: T) => T>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([]);
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)] };
});

/** Nearest-neighbour ×2 upsampling (PyTorch nn.Upsample(scale_factor=2, mode='nearest')). */
export function upsampleNearest2(x: tf.Tensor5D): tf.Tensor5D {
  return stockKernelsInUse() ? upsampleNearest2Stock(x) : upsampleOnHost(x);
}

/** The same from tfjs's tile, one axis at a time on rank-3 views (WebGPU's tile runs on the GPU below rank 5 only). */
function upsampleNearest2Stock(x: tf.Tensor5D): tf.Tensor5D {
  const [n, d, h, w, c] = x.shape;
  return tf.tidy(() => {
    const alongW = x.reshape([n * d * h * w, 1, c]).tile([1, 2, 1]);
    const alongH = alongW.reshape([n * d * h, 1, 2 * w * c]).tile([1, 2, 1]);
    return alongH
      .reshape([n * d, 1, 4 * h * w * c])
      .tile([1, 2, 1])
      .reshape([n, 2 * d, 2 * h, 2 * w, c]);
  });
}

const upsampleOnHost = customOp<(x: tf.Tensor5D) => tf.Tensor5D>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([]);
  const [n, d, h, w, c] = x.shape;
  const run = executor();
  const lines = n * d * h;
  return {
    value: tensorFilled([n, 2 * d, 2 * h, 2 * w, c], (out) =>
      run.run('upsampleLines', [run.address(out), run.address(valuesOf(x)), d, h, w, c], [0, 4 * lines], 1, 8 * x.size),
    ),
    // each input voxel receives the gradients of its eight copies
    gradFunc: (dy: tf.Tensor) => [
      tensorFilled([n, d, h, w, c], (dx) =>
        run.run('upsampleGradientLines', [run.address(dx), run.address(valuesOf(dy)), h, w, c], [0, lines], 1, dy.size),
      ),
    ],
  };
});

/**
 * 2×2×2 max pooling, stride 2; the gradient goes to the first maximum of each window (as PyTorch)
 * on wasm and cpu, and as tfjs's kernel has it elsewhere (ties are rare in real-valued activations).
 */
export function maxPool2(x: tf.Tensor5D): tf.Tensor5D {
  return stockKernelsInUse() ? tf.maxPool3d(x, 2, 2, 'valid') : maxPoolOnHost(x);
}

const maxPoolOnHost = customOp<(x: tf.Tensor5D) => tf.Tensor5D>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([]);
  const [n, d, h, w, c] = x.shape;
  const [od, oh, ow] = [d >> 1, h >> 1, w >> 1];
  const argmax = new Int32Array(n * od * oh * ow * c);
  const value = tensorFilled([n, od, oh, ow, c], (out) => {
    const input = valuesOf(x);
    for (let b = 0, o = 0; b < n; b++) {
      for (let z = 0; z < od; z++) {
        for (let y = 0; y < oh; y++) {
          for (let xx = 0; xx < ow; xx++) {
            for (let ch = 0; ch < c; ch++, o++) {
              let best = -Infinity;
              let where = 0;
              for (let dz = 0; dz < 2; dz++) {
                for (let dy = 0; dy < 2; dy++) {
                  const base = (((b * d + 2 * z + dz) * h + 2 * y + dy) * w + 2 * xx) * c + ch;
                  for (let dx = 0; dx < 2; dx++) {
                    const index = base + dx * c;
                    if (input[index] > best) {
                      best = input[index];
                      where = index;
                    }
                  }
                }
              }
              out[o] = best;
              argmax[o] = where;
            }
          }
        }
      }
    }
  });
  return {
    value,
    gradFunc: (dy: tf.Tensor) => [
      tensorFilled([n, d, h, w, c], (dx) => {
        const g = valuesOf(dy);
        dx.fill(0);
        for (let o = 0; o < g.length; o++) dx[argmax[o]] += g[o];
      }),
    ],
  };
});

/** Concatenation along channels, [a, b] (encoder skip first). */
export function concatChannels(a: tf.Tensor5D, b: tf.Tensor5D): tf.Tensor5D {
  if (!stockKernelsInUse()) return concatOnHost(a, b);
  const [n, d, h, w] = a.shape;
  const joined = tf.concat([a.reshape([-1, a.shape[4]]), b.reshape([-1, b.shape[4]])], 1);
  return joined.reshape([n, d, h, w, a.shape[4] + b.shape[4]]);
}

/** Block copies over the compute threads: tfjs-wasm's concat and the slices of its gradient run on one. */
const concatOnHost = customOp<(a: tf.Tensor5D, b: tf.Tensor5D) => tf.Tensor5D>(
  (a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    const [ca, cb] = [a.shape[4]!, b.shape[4]!];
    const rows = a.size / ca;
    const run = executor();
    const stride = 4 * (ca + cb);
    const value = tensorFilled([...a.shape.slice(0, 4), ca + cb], (out) => {
      const at = run.address(out);
      run.run('copyRows', [at, stride, run.address(valuesOf(a)), 4 * ca, 4 * ca], [0, rows], 1, a.size);
      run.run('copyRows', [at + 4 * ca, stride, run.address(valuesOf(b)), 4 * cb, 4 * cb], [0, rows], 1, b.size);
    });
    const part = (dy: tf.Tensor, shape: number[], offset: number, channels: number) =>
      tensorFilled(shape, (values) =>
        run.run(
          'copyRows',
          [run.address(values), 4 * channels, run.address(valuesOf(dy)) + 4 * offset, stride, 4 * channels],
          [0, rows],
          1,
          rows * channels,
        ),
      );
    return { value, gradFunc: (dy: tf.Tensor) => [part(dy, a.shape, 0, ca), part(dy, b.shape, ca, cb)] };
  },
);

/** x·W, its gradient two more products with transposed operands (src/engine/matmul.ts). */
export const dense = customOp<(x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D>(
  (x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, w]);
    return {
      value: matMul(x as tf.Tensor2D, w as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => [
        matMul(dy as tf.Tensor2D, ws as tf.Tensor2D, false, true),
        matMul(xs as tf.Tensor2D, dy as tf.Tensor2D, true),
      ],
    };
  },
);

/** A variable from an initial value; tf.variable copies its argument, so the initial tensor is freed. */
export function variableFrom(initial: tf.Tensor, trainable = true): tf.Variable {
  const variable = tf.variable(initial, trainable);
  initial.dispose();
  return variable;
}
