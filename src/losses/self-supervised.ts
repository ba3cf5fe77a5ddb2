import * as tf from '@tensorflow/tfjs';
import { dense, detach } from '../engine/ops.js';

/**
 * Mean negative cosine between matching rows, as torch's CosineSimilarity(dim=1, eps=1e-8):
 * p·z / sqrt(max(‖p‖²‖z‖², eps²)). A zero row (a predictor row that the ReLU zeroed) gets a
 * finite gradient z/eps there, as in the reference, where norm-based formulas give NaN.
 */
export function negativeCosine(p: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar {
  const dot = p.mul(z).sum(1);
  const norms = p.square().sum(1).mul(z.square().sum(1)).maximum(1e-16).sqrt();
  return dot.div(norms).mean().neg() as tf.Scalar;
}

/**
 * Lsim of one layer: ½·D(p_A, sg(z_B)) + ½·D(p_B, sg(z_A)); rows are the sampled
 * positions of timepoint A followed by those of timepoint B.
 */
export function similarityLoss(p: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar {
  const half = p.shape[0] / 2;
  const [pA, pB] = tf.split(p, [half, half], 0) as [tf.Tensor2D, tf.Tensor2D];
  const [zA, zB] = tf.split(z, [half, half], 0) as [tf.Tensor2D, tf.Tensor2D];
  return negativeCosine(pA, detach(zB))
    .add(negativeCosine(pB, detach(zA)))
    .mul(0.5) as tf.Scalar;
}

/** LS of one layer: per timepoint, mean over channels of max(0, η − sqrt(unbiased var + ε)); averaged over A and B. */
export function varianceLoss(z: tf.Tensor2D, eta = 1, epsilon = 1e-4): tf.Scalar {
  const half = z.shape[0] / 2;
  const parts = tf.split(z, [half, half], 0);
  const hinge = (x: tf.Tensor) => {
    const n = x.shape[0];
    const centred = x.sub(x.mean(0));
    const std = centred
      .square()
      .sum(0)
      .div(n - 1)
      .add(epsilon)
      .sqrt();
    return tf.relu(tf.scalar(eta).sub(std)).mean();
  };
  return hinge(parts[0]).add(hinge(parts[1])).mul(0.5) as tf.Scalar;
}

/**
 * LC of one layer: Σ_{u≠v} Cov[u,v]² / width per timepoint, summed over A and B.
 * Computed without the width×width covariance: ‖XᵀX‖²_F = ‖XXᵀ‖²_F (an n×n Gram matrix of the
 * n sampled rows) and the diagonal is the per-channel variance.
 */
export function covarianceLoss(z: tf.Tensor2D): tf.Scalar {
  const half = z.shape[0] / 2;
  const width = z.shape[1];
  const parts = tf.split(z, [half, half], 0) as tf.Tensor2D[];
  const offDiagonal = (x: tf.Tensor2D) => {
    const n = x.shape[0];
    const centred = x.sub(x.mean(0)) as tf.Tensor2D;
    const frobenius = dense(centred, tf.transpose(centred))
      .square()
      .sum()
      .div((n - 1) ** 2);
    const diagonal = centred
      .square()
      .sum(0)
      .div(n - 1)
      .square()
      .sum();
    return frobenius.sub(diagonal).div(width);
  };
  return offDiagonal(parts[0]).add(offDiagonal(parts[1])) as tf.Scalar;
}

/**
 * LO: mean over rows of the squared cosine between encoder and decoder projections at the
 * same positions (the code); `squared: false` gives the paper's plain dot product of unit vectors.
 */
export function orthogonalityLoss(e: tf.Tensor2D, d: tf.Tensor2D, squared = true): tf.Scalar {
  const unit = (x: tf.Tensor2D) => x.div(x.norm('euclidean', 1, true).add(1e-7));
  const cosine = unit(e).mul(unit(d)).sum(1);
  return (squared ? cosine.square() : cosine).mean() as tf.Scalar;
}

/** Lrec: mean squared error. */
export function reconstructionLoss(prediction: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return prediction.sub(target).square().mean() as tf.Scalar;
}
