import * as tf from '@tensorflow/tfjs';
import { gatherRows, type ProjectionHead, type ReconstructionHead } from '../model/heads.js';
import {
  covarianceLoss,
  orthogonalityLoss,
  reconstructionLoss,
  similarityLoss,
  varianceLoss,
} from './self-supervised.js';

/** Weights of the pretraining objective, per position in the tap list (the reference scripts' values). */
export interface PretrainWeights {
  /** λ: applied twice to Lsim in the reference code. */
  lambdaSim: number;
  /** Raw per-tap similarity weights; normalised to sum 1. */
  simWeights: number[];
  /** μ per tap (multiplied by the normalised sim weight, as the code does). */
  variance: number[];
  /** γ per tap (likewise). */
  covariance: number[];
  /** β and the (encoder, decoder) layer ids whose projections must be orthogonal. */
  orthogonality: number;
  orthogonalPair?: [number, number];
  /** The code squares the cosine (default); the paper's Eq. 2 uses it plainly. */
  orthogonalitySquared?: boolean;
  /** α. */
  reconstruction: number;
}

/** The reference script (script_pretrain.sh) with taps 3,10,17,24,27,31,38,45,52. */
export const REFERENCE_TAPS = [3, 10, 17, 24, 27, 31, 38, 45, 52];
export const REFERENCE_WEIGHTS: PretrainWeights = {
  lambdaSim: 1,
  simWeights: [1, 1, 1, 1, 0, 1, 1, 1, 1],
  variance: [0, 0, 0, 0, 0, 0, 1e-3, 1e-3, 1e-3],
  covariance: [0, 0, 0, 0, 0, 0, 1e-3, 1e-3, 1e-3],
  orthogonality: 100,
  orthogonalPair: [27, 38],
  reconstruction: 10,
};

export interface PretrainInputs {
  taps: number[];
  features: Map<number, tf.Tensor5D>;
  logits: tf.Tensor5D;
  /** Geometry-only augmented input (the denoising target). */
  target: tf.Tensor5D;
  heads: ProjectionHead[];
  reconstructionHead: ReconstructionHead;
  /** Sampled positions per tap (flat voxel indices of that layer's grid), shared by the batch. */
  positions: Int32Array[];
  training: boolean;
}

/** L_PT, the pretraining objective; returns the total and every term (for logging). */
export function pretrainObjective(
  inputs: PretrainInputs,
  weights: PretrainWeights,
): { total: tf.Scalar; terms: Map<string, tf.Scalar> } {
  const terms = new Map<string, tf.Scalar>();
  const sum = weights.simWeights.reduce((a, b) => a + b, 0);
  const normalised = weights.simWeights.map((w) => w / sum);
  let total = tf.scalar(0);
  let similarity = tf.scalar(0);
  inputs.taps.forEach((layer, k) => {
    const z = inputs.heads[k].project(gatherRows(inputs.features.get(layer)!, inputs.positions[k]), inputs.training);
    const p = inputs.heads[k].predict(z, inputs.training);
    const sim = similarityLoss(p, z);
    terms.set(`sim_${layer}`, sim);
    similarity = similarity.add(sim.mul(normalised[k] * weights.lambdaSim));
    if (weights.variance[k] > 0 || weights.covariance[k] > 0) {
      const variance = varianceLoss(z);
      const covariance = covarianceLoss(z);
      terms.set(`var_${layer}`, variance);
      terms.set(`cov_${layer}`, covariance);
      total = total
        .add(variance.mul(weights.variance[k] * normalised[k] * weights.lambdaSim))
        .add(covariance.mul(weights.covariance[k] * normalised[k] * weights.lambdaSim));
    }
  });
  total = total.add(similarity.mul(weights.lambdaSim));
  if (weights.orthogonalPair && weights.orthogonality > 0) {
    const [encoder, decoder] = weights.orthogonalPair;
    const e = inputs.taps.indexOf(encoder);
    const d = inputs.taps.indexOf(decoder);
    const encoded = inputs.heads[e].project(
      gatherRows(inputs.features.get(encoder)!, inputs.positions[e]),
      inputs.training,
    );
    const decoded = inputs.heads[d].project(
      gatherRows(inputs.features.get(decoder)!, inputs.positions[e]),
      inputs.training,
    );
    const ortho = orthogonalityLoss(encoded, decoded, weights.orthogonalitySquared ?? true);
    terms.set('ortho', ortho);
    total = total.add(ortho.mul(weights.orthogonality));
  }
  if (weights.reconstruction > 0) {
    const rec = reconstructionLoss(inputs.reconstructionHead.apply(inputs.logits), inputs.target);
    terms.set('rec', rec);
    total = total.add(rec.mul(weights.reconstruction));
  }
  terms.set('pretrain_total', total as tf.Scalar);
  return { total: total as tf.Scalar, terms };
}
