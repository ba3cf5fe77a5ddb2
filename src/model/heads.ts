import * as tf from '@tensorflow/tfjs';
import { conv3dSame } from '../engine/conv.js';
import { stockKernelsInUse } from '../engine/kernel-choice.js';
import { tensorFilled, valuesOf } from '../engine/heap.js';
import { batchNorm, batchNormRelu, type BatchNormState } from '../engine/batch-norm.js';
import { customOp, dense, variableFrom } from '../engine/ops.js';
import type { Random } from '../runtime/random.js';

export interface HeadConfig {
  /** Projector width (netF_nc, 2048 in the reference). */
  width: number;
  /** Predictor bottleneck (width/4 = 512 in the code; the paper says 256). */
  bottleneck: number;
}

interface Linear {
  weight: tf.Variable;
  bias?: tf.Variable;
}

function kaimingLinear(inputs: number, outputs: number, random: Random, bias = false): Linear {
  const weight = variableFrom(
    tf.randomNormal([inputs, outputs], 0, Math.sqrt(2 / inputs), 'float32', random.uint32()),
    true,
  );
  return { weight, bias: bias ? variableFrom(tf.zeros([outputs]), true) : undefined };
}

/** BatchNorm1d with PyTorch's default init (γ = 1, β = 0): the reference's init skips 1d norms. */
function norm1d(channels: number, affine: boolean): BatchNormState {
  return {
    gamma: affine ? variableFrom(tf.ones([channels]), true) : undefined,
    beta: affine ? variableFrom(tf.zeros([channels]), true) : undefined,
    runningMean: variableFrom(tf.zeros([channels]), false),
    runningVar: variableFrom(tf.ones([channels]), false),
    batches: 0,
  };
}

function apply(linear: Linear, x: tf.Tensor2D): tf.Tensor2D {
  const weight = linear.weight as tf.Tensor2D;
  const y = stockKernelsInUse() ? tf.matMul(x, weight) : dense(x, weight);
  return linear.bias ? (y.add(linear.bias) as tf.Tensor2D) : (y as tf.Tensor2D);
}

/**
 * SimSiam projector and predictor of one tapped layer (the reference's archF 2):
 * projector Linear→BN→ReLU→Linear→BN→ReLU→Linear→BN(affine=False), no biases;
 * predictor Linear→BN→ReLU→Linear(with bias).
 */
export class ProjectionHead {
  readonly projector: Linear[];
  readonly projectorNorms: BatchNormState[];
  readonly predictor: Linear[];
  readonly predictorNorm: BatchNormState;

  constructor(
    inputs: number,
    config: HeadConfig,
    random: Random,
    readonly name: string,
    readonly predictorName: string,
  ) {
    this.projector = [
      kaimingLinear(inputs, config.width, random),
      kaimingLinear(config.width, config.width, random),
      kaimingLinear(config.width, config.width, random),
    ];
    this.projectorNorms = [norm1d(config.width, true), norm1d(config.width, true), norm1d(config.width, false)];
    this.predictor = [
      kaimingLinear(config.width, config.bottleneck, random),
      kaimingLinear(config.bottleneck, config.width, random, true),
    ];
    this.predictorNorm = norm1d(config.bottleneck, true);
  }

  project(rows: tf.Tensor2D, training: boolean): tf.Tensor2D {
    let h = batchNormRelu(apply(this.projector[0], rows), this.projectorNorms[0], training);
    h = batchNormRelu(apply(this.projector[1], h), this.projectorNorms[1], training);
    return batchNorm(apply(this.projector[2], h), this.projectorNorms[2], training);
  }

  predict(z: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return apply(this.predictor[1], batchNormRelu(apply(this.predictor[0], z), this.predictorNorm, training));
  }

  trainableVariables(): tf.Variable[] {
    const linear = [...this.projector, ...this.predictor].flatMap((l) => (l.bias ? [l.weight, l.bias] : [l.weight]));
    const norms = [...this.projectorNorms, this.predictorNorm].flatMap((n) => (n.gamma ? [n.gamma, n.beta!] : []));
    return [...linear, ...norms];
  }
}

/** netRec: one 3×3×3 reflect-padded conv from the logits back to intensity, no bias (pretraining only). */
export class ReconstructionHead {
  readonly weight: tf.Variable;

  constructor(classes: number, channels: number, random: Random) {
    this.weight = variableFrom(
      tf.randomNormal([3, 3, 3, classes, channels], 0, Math.sqrt(2 / (27 * classes)), 'float32', random.uint32()),
      true,
    );
  }

  apply(logits: tf.Tensor5D): tf.Tensor5D {
    return conv3dSame(logits, this.weight as tf.Tensor5D);
  }
}

/**
 * Patch positions of one tapped layer: min(M, voxels) flat voxel indices drawn without replacement,
 * shared by every batch item and both timepoints (as the reference code samples them).
 */
export function samplePositions(voxels: number, count: number, random: Random): Int32Array {
  const order = Int32Array.from({ length: voxels }, (_, i) => i);
  const take = Math.min(count, voxels);
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(random.next() * (voxels - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, take);
}

/**
 * Rows [N·M, C] (batch-major) of a feature map [N, D, H, W, C] at the given flat voxel indices; the
 * gradient scatters back (tfjs's gather gradient needs UnsortedSegmentSum, absent on wasm).
 */
export function gatherRows(feature: tf.Tensor5D, positions: Int32Array): tf.Tensor2D {
  if (!stockKernelsInUse()) return gatherOp(feature, tf.tensor1d(positions, 'int32'));
  const [n, d, h, w, c] = feature.shape;
  return tf.tidy(() =>
    tf
      .gather(feature.reshape([n, d * h * w, c]), tf.tensor1d(positions, 'int32'), 1)
      .reshape([n * positions.length, c]),
  );
}

const gatherOp = customOp<(feature: tf.Tensor5D, positions: tf.Tensor1D) => tf.Tensor2D>(
  (feature: tf.Tensor, positions: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    const [n, d, h, w, c] = feature.shape;
    const voxels = d * h * w;
    const at = positions.dataSync() as Int32Array;
    const rowStart = (b: number, position: number) => (b * voxels + position) * c;
    return {
      value: tensorFilled([n * at.length, c], (rows) => {
        const input = valuesOf(feature);
        for (let b = 0, r = 0; b < n; b++) {
          for (const position of at)
            rows.set(input.subarray(rowStart(b, position), rowStart(b, position) + c), r++ * c);
        }
      }),
      gradFunc: (dy: tf.Tensor) => [
        tensorFilled(feature.shape, (dx) => {
          const g = valuesOf(dy);
          dx.fill(0);
          for (let b = 0, r = 0; b < n; b++) {
            for (const position of at) {
              const base = rowStart(b, position);
              for (let ch = 0; ch < c; ch++) dx[base + ch] += g[r * c + ch];
              r++;
            }
          }
        }),
        tf.zerosLike(positions),
      ],
    };
  },
);
