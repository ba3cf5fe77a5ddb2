import * as tf from '@tensorflow/tfjs';
import { tensorFilled, valuesOf } from './heap.js';
import { matMul } from './matmul.js';

/**
 * Small differentiable ops for [N, D, H, W, C] tensors, written so that no slow path of the wasm
 * back end is hit: rank-5 concat, slice, transpose and reverse gradients are slow there, and so is
 * tfjs's matMul with a transpose flag (20–50×).
 */

type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];

/** tf.customGrad with the callback typed by its real arguments (tfjs types them as a variadic union). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function customOp<F extends (...args: any[]) => tf.Tensor>(f: (...args: any[]) => { value: tf.Tensor; gradFunc: GradFunc }): F {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as F;
}

/** Identity whose gradient is zero: the stop-gradient of SimSiam (tfjs has no tf.stopGradient). */
export const detach = customOp<<T extends tf.Tensor>(x: T) => T>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([]);
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)] };
});

/** Nearest-neighbour ×2 upsampling (PyTorch nn.Upsample(scale_factor=2, mode='nearest')). */
export const upsampleNearest2 = customOp<(x: tf.Tensor5D) => tf.Tensor5D>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([]);
  const [n, d, h, w, c] = x.shape;
  const [od, oh, ow] = [2 * d, 2 * h, 2 * w];
  return {
    value: tensorFilled([n, od, oh, ow, c], (out) => {
      const input = valuesOf(x);
      for (let b = 0, o = 0; b < n; b++) {
        for (let z = 0; z < od; z++) {
          for (let y = 0; y < oh; y++) {
            const rowBase = (((b * d + (z >> 1)) * h + (y >> 1)) * w) * c;
            for (let xx = 0; xx < ow; xx++) {
              const source = rowBase + (xx >> 1) * c;
              for (let ch = 0; ch < c; ch++) out[o++] = input[source + ch];
            }
          }
        }
      }
    }),
    // each input voxel receives the gradients of its eight copies
    gradFunc: (dy: tf.Tensor) => [
      tensorFilled([n, d, h, w, c], (dx) => {
        const g = valuesOf(dy);
        dx.fill(0);
        for (let b = 0, o = 0; b < n; b++) {
          for (let z = 0; z < od; z++) {
            for (let y = 0; y < oh; y++) {
              const rowBase = (((b * d + (z >> 1)) * h + (y >> 1)) * w) * c;
              for (let xx = 0; xx < ow; xx++) {
                const target = rowBase + (xx >> 1) * c;
                for (let ch = 0; ch < c; ch++) dx[target + ch] += g[o++];
              }
            }
          }
        }
      }),
    ],
  };
});

/** 2×2×2 max pooling, stride 2; the gradient goes to the first maximum of each window (as PyTorch). */
export const maxPool2 = customOp<(x: tf.Tensor5D) => tf.Tensor5D>((x: tf.Tensor, save: tf.GradSaveFunc) => {
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

/** Concatenation along channels, [a, b] (encoder skip first), done on rank-2 views. */
export function concatChannels(a: tf.Tensor5D, b: tf.Tensor5D): tf.Tensor5D {
  const [n, d, h, w] = a.shape;
  const joined = tf.concat([a.reshape([-1, a.shape[4]]), b.reshape([-1, b.shape[4]])], 1);
  return joined.reshape([n, d, h, w, a.shape[4] + b.shape[4]]);
}

/** x·W, its gradient two more products with transposed operands (src/engine/matmul.ts). */
export const dense = customOp<(x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D>((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => [matMul(dy as tf.Tensor2D, ws as tf.Tensor2D, false, true), matMul(xs as tf.Tensor2D, dy as tf.Tensor2D, true)],
  };
});

export interface BatchNormState {
  /** γ and β; absent for a non-affine norm (the projector's last BatchNorm1d). */
  gamma?: tf.Variable;
  beta?: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
  /** PyTorch's num_batches_tracked. */
  batches: number;
}

export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/**
 * Batch normalisation with PyTorch semantics over every axis but the last (channels): training
 * normalises with the biased batch variance and updates the running variance with the unbiased
 * one (momentum 0.1, eps 1e-5); evaluation uses the running statistics. Training mode is one fused
 * op whose statistics and gradient are accumulated in float64 (tfjs's float32 reductions over
 * 10⁵ rows drift by ~1e-5, which compounds through a U-Net):
 * dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
 */
export function batchNorm<T extends tf.Tensor>(x: T, state: BatchNormState, training: boolean): T {
  return normalise(x, state, training, false);
}

/**
 * ReLU(batchNorm(x)) as one op in training mode: it saves only x and recomputes the mask, so the
 * normalised activations are neither stored for the backward pass nor walked through twice.
 */
export function batchNormRelu<T extends tf.Tensor>(x: T, state: BatchNormState, training: boolean): T {
  return normalise(x, state, training, true);
}

function normalise<T extends tf.Tensor>(x: T, state: BatchNormState, training: boolean, relu: boolean): T {
  const channels = x.shape[x.rank - 1];
  if (!training) {
    return tf.tidy(() => {
      const rows = x.reshape([-1, channels]);
      let y = rows.sub(state.runningMean).mul(tf.rsqrt(state.runningVar.add(BN_EPS)));
      if (state.gamma && state.beta) y = y.mul(state.gamma).add(state.beta);
      return (relu ? tf.relu(y) : y).reshape(x.shape) as T;
    });
  }
  const { y, mean, variance, count } = normOp(x, state, relu);
  tf.tidy(() => {
    const unbiased = variance.map((v) => (v * count) / Math.max(1, count - 1));
    state.runningMean.assign(state.runningMean.mul(1 - BN_MOMENTUM).add(tf.tensor1d(Float32Array.from(mean)).mul(BN_MOMENTUM)));
    state.runningVar.assign(state.runningVar.mul(1 - BN_MOMENTUM).add(tf.tensor1d(Float32Array.from(unbiased)).mul(BN_MOMENTUM)));
  });
  state.batches += 1;
  return y as T;
}

interface NormStatistics {
  mean: Float64Array;
  variance: Float64Array;
  count: number;
}

function statistics(data: Float32Array, channels: number): NormStatistics {
  const count = data.length / channels;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  for (let i = 0; i < data.length; i += channels) for (let c = 0; c < channels; c++) mean[c] += data[i + c];
  for (let c = 0; c < channels; c++) mean[c] /= count;
  for (let i = 0; i < data.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const d = data[i + c] - mean[c];
      variance[c] += d * d;
    }
  }
  for (let c = 0; c < channels; c++) variance[c] /= count;
  return { mean, variance, count };
}

/** The per-channel affine map x ↦ scale·x + shift that normalisation (then γ, β) amounts to. */
interface ChannelMap {
  scale: Float64Array;
  shift: Float64Array;
  /** 1/σ, for the gradient. */
  inverseStd: Float64Array;
}

function channelMap(stats: NormStatistics, gamma?: Float32Array, beta?: Float32Array): ChannelMap {
  const inverseStd = stats.variance.map((v) => 1 / Math.sqrt(v + BN_EPS));
  const scale = inverseStd.map((s, c) => (gamma ? gamma[c] : 1) * s);
  const shift = scale.map((s, c) => (beta ? beta[c] : 0) - s * stats.mean[c]);
  return { scale, shift, inverseStd };
}

/*
 * The ReLU is written without data-dependent branches, (v + |v|)/2 forward and dy·[v > 0] backward:
 * with signs at random a branch mispredicts half the time, which made these loops 4× slower.
 */

/** y = γ·x̂ + β (γ, β absent: x̂), then ReLU if asked, into `y`. */
function normaliseInto(y: Float32Array, data: Float32Array, map: ChannelMap, relu: boolean): void {
  const { scale, shift } = map;
  const channels = scale.length;
  for (let i = 0; i < data.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const value = scale[c] * data[i + c] + shift[c];
      y[i + c] = relu ? (value + Math.abs(value)) * 0.5 : value;
    }
  }
}

/**
 * dx = γ/σ·(dy' − mean(dy') − x̂·mean(dy'·x̂)) as a tensor, with Σdy' and Σdy'·x̂ for dβ and dγ,
 * where dy' is dy behind the ReLU's mask when there is one; x̂ and the mask are recomputed from the
 * saved input x exactly as the forward computed them.
 */
function normBackward(dy: tf.Tensor, x: tf.Tensor, stats: NormStatistics, map: ChannelMap, relu: boolean) {
  const { scale, shift, inverseStd } = map;
  const { mean, count } = stats;
  const channels = scale.length;
  const sumDy = new Float64Array(channels);
  const sumDyX = new Float64Array(channels);
  const [g, data] = [valuesOf(dy), valuesOf(x)];
  for (let i = 0; i < g.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const value = data[i + c];
      const gradient = relu ? g[i + c] * +(scale[c] * value + shift[c] > 0) : g[i + c];
      sumDy[c] += gradient;
      sumDyX[c] += gradient * (value - mean[c]) * inverseStd[c];
    }
  }
  const dx = tensorFilled(x.shape, (out) => {
    const [g, data] = [valuesOf(dy), valuesOf(x)];
    for (let i = 0; i < g.length; i += channels) {
      for (let c = 0; c < channels; c++) {
        const value = data[i + c];
        const gradient = relu ? g[i + c] * +(scale[c] * value + shift[c] > 0) : g[i + c];
        out[i + c] = scale[c] * (gradient - sumDy[c] / count - ((value - mean[c]) * inverseStd[c] * sumDyX[c]) / count);
      }
    }
  });
  return { dx, sumDy, sumDyX };
}

interface NormOutput extends NormStatistics {
  y: tf.Tensor;
}

/** Training-mode normalisation as one custom op (affine when the state has γ and β). */
function normOp(x: tf.Tensor, state: BatchNormState, relu: boolean): NormOutput {
  let stats: NormStatistics | undefined;
  const affine = state.gamma !== undefined && state.beta !== undefined;
  const op = customOp<(x: tf.Tensor, ...affine: tf.Tensor[]) => tf.Tensor>((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xs, gs, bs] = args as tf.Tensor[];
    save([xs]);
    const [gamma, beta] = affine ? [Float32Array.from(valuesOf(gs)), Float32Array.from(valuesOf(bs))] : [undefined, undefined];
    const batch = statistics(valuesOf(xs), xs.shape[xs.rank - 1]);
    const map = channelMap(batch, gamma, beta);
    stats = batch;
    return {
      value: tensorFilled(xs.shape, (y) => normaliseInto(y, valuesOf(xs), map, relu)),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => {
        const { dx, sumDy, sumDyX } = normBackward(dy, saved, batch, map, relu);
        return affine ? [dx, tf.tensor1d(Float32Array.from(sumDyX)), tf.tensor1d(Float32Array.from(sumDy))] : [dx];
      },
    };
  });
  const y = affine ? op(x, state.gamma!, state.beta!) : op(x);
  return { y, ...stats! };
}

/** A variable from an initial value; tf.variable copies its argument, so the initial tensor is freed. */
export function variableFrom(initial: tf.Tensor, trainable = true): tf.Variable {
  const variable = tf.variable(initial, trainable);
  initial.dispose();
  return variable;
}
