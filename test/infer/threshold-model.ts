import * as tf from '@tensorflow/tfjs';
import { BN_EPS } from '../../src/engine/batch-norm.js';
import type { ModelInfo, SegmentationModel } from '../../src/model/model-file.js';
import { UNet } from '../../src/model/unet.js';
import { Random } from '../../src/runtime/random.js';

/**
 * A U-Net whose output is known: every convolution uses only its centre tap, the top level passes
 * the (normalised) intensity through and the deeper levels are zero, so the logits are
 * logit_k = k·x − (τ_1 + … + τ_k) and the label of a voxel is the number of thresholds τ below x.
 */
export function thresholdModel(thresholds: number[], modalities = ['T1w'], baseWidth = 4): SegmentationModel {
  const info: ModelInfo = {
    unet: { inputChannels: modalities.length, outputClasses: thresholds.length + 1, baseWidth, depth: 4 },
    modalities,
    normalisation: { kind: 'min-percentile', upperPercentile: 99.99 },
    labels: Object.fromEntries(
      Array.from({ length: thresholds.length + 1 }, (_, k) => [String(k), k === 0 ? 'background' : `class${k}`]),
    ),
  };
  const unet = new UNet(info.unet, new Random(0));
  for (const weight of unet.weights.values()) weight.assign(tf.zerosLike(weight));
  for (const norm of unet.norms.values()) {
    norm.gamma!.assign(tf.onesLike(norm.gamma!));
    norm.beta!.assign(tf.zerosLike(norm.beta!));
    norm.runningMean.assign(tf.zerosLike(norm.runningMean));
    norm.runningVar.assign(tf.fill(norm.runningVar.shape, 1 - BN_EPS));
  }
  const centreTaps = (index: number, taps: [number, number, number][]) => {
    const weight = unet.weights.get(index)!;
    const [, , , inputs, outputs] = weight.shape;
    const values = new Float32Array(weight.size);
    const centre = 13 * inputs * outputs;
    for (const [input, output, value] of taps) values[centre + input * outputs + output] = value;
    weight.assign(tf.tensor(values, weight.shape));
  };
  const last = unet.modules.length - 1;
  const up = unet.modules.map((module) => module.kind).lastIndexOf('up');
  for (const index of [0, 3, 6]) centreTaps(index, [[0, 0, 1]]);
  centreTaps(up + 1, [[0, 0, 1]]); // channel 0 of the level-0 skip
  const constant = unet.norms.get(up + 2)!;
  constant.beta!.assign(tf.tensor1d(Array.from({ length: baseWidth }, (_, c) => (c === 1 ? 1 : 0))));
  centreTaps(up + 4, [
    [0, 0, 1],
    [1, 1, 1],
  ]);
  let cumulative = 0;
  const head: [number, number, number][] = [];
  for (let k = 1; k <= thresholds.length; k++) {
    cumulative += thresholds[k - 1];
    head.push([0, k, k], [1, k, -cumulative]);
  }
  centreTaps(last, head);
  return { unet, info };
}

/** The labels thresholdModel gives for normalised intensities. */
export function thresholdLabels(normalised: Float32Array, thresholds: number[]): Uint8Array {
  return Uint8Array.from(normalised, (value) => thresholds.filter((t) => value > t).length);
}
