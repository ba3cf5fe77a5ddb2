import * as tf from '@tensorflow/tfjs';
import { tensorFilled, valuesOf } from './heap.js';
import { stockKernelsInUse } from './kernel-choice.js';
import { customOp } from './ops.js';
import { NORM_CHUNK } from './parallel-tasks.js';
import { executor, stagedKernels, type StagedKernels } from './wasm-kernels.js';

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
 * op whose statistics and gradient sums are accumulated in float64 (tfjs's float32 reductions over
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
  if (stockKernelsInUse()) return normaliseStock(x, state, relu);
  const { y, mean, variance, count } = normOp(x, state, relu);
  tf.tidy(() =>
    updateRunning(state, tf.tensor1d(Float32Array.from(mean)), tf.tensor1d(Float32Array.from(variance)), count),
  );
  return y as T;
}

/** Running statistics: momentum 0.1, the unbiased variance. */
function updateRunning(state: BatchNormState, mean: tf.Tensor1D, variance: tf.Tensor1D, count: number): void {
  const unbiased = variance.mul(count / Math.max(1, count - 1));
  state.runningMean.assign(state.runningMean.mul(1 - BN_MOMENTUM).add(mean.mul(BN_MOMENTUM)));
  state.runningVar.assign(state.runningVar.mul(1 - BN_MOMENTUM).add(unbiased.mul(BN_MOMENTUM)));
  state.batches += 1;
}

/**
 * Training mode from tfjs's ops, for the back ends whose tensors are not in host memory (TensorFlow,
 * WebGPU): float32 reductions, and the gradient by tfjs's autodiff.
 */
function normaliseStock<T extends tf.Tensor>(x: T, state: BatchNormState, relu: boolean): T {
  const channels = x.shape[x.rank - 1];
  const rows = x.reshape([-1, channels]);
  const { mean, variance } = tf.moments(rows, 0);
  tf.tidy(() => updateRunning(state, mean as tf.Tensor1D, variance as tf.Tensor1D, rows.shape[0]));
  let y = rows.sub(mean).mul(tf.rsqrt(variance.add(BN_EPS)));
  if (state.gamma && state.beta) y = y.mul(state.gamma).add(state.beta);
  return (relu ? tf.relu(y) : y).reshape(x.shape) as T;
}

interface NormStatistics {
  mean: Float64Array;
  variance: Float64Array;
  count: number;
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

interface GradientSums {
  sumDy: Float64Array;
  sumDyX: Float64Array;
}

/**
 * The passes over the data, on views of [rows, channels] values. dy is taken behind the ReLU's
 * mask when there is one, the mask recomputed from x exactly as the forward pass computed it.
 */
interface NormLoops {
  statistics(data: Float32Array, channels: number): NormStatistics;
  /** y = scale·x + shift, then the ReLU if asked. */
  normalise(y: Float32Array, data: Float32Array, map: ChannelMap, relu: boolean): void;
  /** Σ dy and Σ dy·x̂ per channel. */
  gradientSums(
    g: Float32Array,
    data: Float32Array,
    stats: NormStatistics,
    map: ChannelMap,
    relu: boolean,
  ): GradientSums;
  /** dx = scale·(dy − Σdy/n − x̂·Σdy·x̂/n). */
  inputGradient(
    dx: Float32Array,
    g: Float32Array,
    data: Float32Array,
    stats: NormStatistics,
    map: ChannelMap,
    sums: GradientSums,
    relu: boolean,
  ): void;
}

/*
 * The JS loops (cpu back end, and channel counts that are not a multiple of 4) compute in float64.
 * The ReLU is written without data-dependent branches, (v + |v|)/2 forward and dy·[v > 0] backward:
 * with signs at random a branch mispredicts half the time, which made these loops 4× slower.
 */
const jsLoops: NormLoops = {
  statistics(data, channels) {
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
  },
  normalise(y, data, { scale, shift }, relu) {
    const channels = scale.length;
    for (let i = 0; i < data.length; i += channels) {
      for (let c = 0; c < channels; c++) {
        const value = scale[c] * data[i + c] + shift[c];
        y[i + c] = relu ? (value + Math.abs(value)) * 0.5 : value;
      }
    }
  },
  gradientSums(g, data, { mean }, { scale, shift, inverseStd }, relu) {
    const channels = scale.length;
    const sumDy = new Float64Array(channels);
    const sumDyX = new Float64Array(channels);
    for (let i = 0; i < g.length; i += channels) {
      for (let c = 0; c < channels; c++) {
        const value = data[i + c];
        const gradient = relu ? g[i + c] * +(scale[c] * value + shift[c] > 0) : g[i + c];
        sumDy[c] += gradient;
        sumDyX[c] += gradient * (value - mean[c]) * inverseStd[c];
      }
    }
    return { sumDy, sumDyX };
  },
  inputGradient(dx, g, data, { mean, count }, { scale, shift, inverseStd }, { sumDy, sumDyX }, relu) {
    const channels = scale.length;
    for (let i = 0; i < g.length; i += channels) {
      for (let c = 0; c < channels; c++) {
        const value = data[i + c];
        const gradient = relu ? g[i + c] * +(scale[c] * value + shift[c] > 0) : g[i + c];
        dx[i + c] = scale[c] * (gradient - sumDy[c] / count - ((value - mean[c]) * inverseStd[c] * sumDyX[c]) / count);
      }
    }
  },
};

/**
 * The same passes as SIMD kernels of kernels.wat over the compute threads: sums in float64, taken
 * per chunk of NORM_CHUNK rows and added in chunk order; the elementwise maps in float32.
 */
function wasmLoops(kernels: StagedKernels): NormLoops {
  const run = executor();
  const maps = ({ scale, shift }: ChannelMap) => [Float32Array.from(scale), Float32Array.from(shift)];
  const chunksOf = (rows: number) => Math.ceil(rows / NORM_CHUNK);
  return {
    statistics(data, channels) {
      const [from, count] = [run.address(data), data.length / channels];
      const chunks = new Float64Array(chunksOf(count) * channels);
      kernels.call([chunks], (_, [sums]) =>
        run.run('channelSumChunks', [from, count, channels, 0, 0, sums], [0, chunksOf(count)], 1, data.length),
      );
      const mean = addChunks(chunks, channels).map((sum) => sum / count);
      kernels.call([mean, chunks], (_, [centre, sums]) =>
        run.run('channelSumChunks', [from, count, channels, 1, centre, sums], [0, chunksOf(count)], 1, 2 * data.length),
      );
      const variance = addChunks(chunks, channels).map((sum) => sum / count);
      return { mean, variance, count };
    },
    normalise(y, data, map, relu) {
      const [at, from, channels] = [run.address(y), run.address(data), map.scale.length];
      kernels.call(maps(map), (_, [scale, shift]) =>
        run.run(
          'normaliseRowRange',
          [at, from, channels, scale, shift, +relu],
          [0, data.length / channels],
          1,
          data.length,
        ),
      );
    },
    gradientSums(g, data, { mean, count }, map, relu) {
      const [gradient, from, channels] = [run.address(g), run.address(data), map.scale.length];
      const [dy, dyX] = [new Float64Array(chunksOf(count) * channels), new Float64Array(chunksOf(count) * channels)];
      kernels.call([...maps(map), mean, map.inverseStd, dy, dyX], (_, at) =>
        run.run(
          'gradientSumChunks',
          [gradient, from, count, channels, at[0], at[1], +relu, ...at.slice(2)],
          [0, chunksOf(count)],
          1,
          4 * data.length,
        ),
      );
      return { sumDy: addChunks(dy, channels), sumDyX: addChunks(dyX, channels) };
    },
    inputGradient(dx, g, data, { mean, count }, map, { sumDy, sumDyX }, relu) {
      const [at, gradient, from, channels] = [run.address(dx), run.address(g), run.address(data), map.scale.length];
      const meanDy = Float32Array.from(sumDy, (s) => s / count);
      const slope = Float32Array.from(sumDyX, (s, c) => (s * map.inverseStd[c]) / count);
      kernels.call([...maps(map), Float32Array.from(mean), meanDy, slope], (_, [scale, shift, ...rest]) =>
        run.run(
          'inputGradientRowRange',
          [at, gradient, from, channels, scale, shift, +relu, ...rest],
          [0, count],
          1,
          4 * data.length,
        ),
      );
    },
  };
}

/** The per-chunk sums (`channels` per chunk) added in chunk order. */
function addChunks(chunks: Float64Array, channels: number): Float64Array {
  const sums = new Float64Array(channels);
  for (let at = 0; at < chunks.length; at += channels) for (let c = 0; c < channels; c++) sums[c] += chunks[at + c];
  return sums;
}

function loopsFor(channels: number): NormLoops {
  const kernels = channels % 4 === 0 ? stagedKernels() : undefined;
  return kernels ? wasmLoops(kernels) : jsLoops;
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
    const channels = xs.shape[xs.rank - 1];
    const loops = loopsFor(channels);
    const [gamma, beta] = affine
      ? [Float32Array.from(valuesOf(gs)), Float32Array.from(valuesOf(bs))]
      : [undefined, undefined];
    const batch = loops.statistics(valuesOf(xs), channels);
    const map = channelMap(batch, gamma, beta);
    stats = batch;
    return {
      value: tensorFilled(xs.shape, (y) => loops.normalise(y, valuesOf(xs), map, relu)),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => {
        const sums = loops.gradientSums(valuesOf(dy), valuesOf(saved), batch, map, relu);
        const dx = tensorFilled(saved.shape, (values) =>
          loops.inputGradient(values, valuesOf(dy), valuesOf(saved), batch, map, sums, relu),
        );
        return affine
          ? [dx, tf.tensor1d(Float32Array.from(sums.sumDyX)), tf.tensor1d(Float32Array.from(sums.sumDy))]
          : [dx];
      },
    };
  });
  const y = affine ? op(x, state.gamma!, state.beta!) : op(x);
  return { y, ...stats! };
}
