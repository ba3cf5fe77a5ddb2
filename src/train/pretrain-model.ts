import * as tf from '@tensorflow/tfjs';
import { ScalarReadings } from '../engine/reads.js';
import { pretrainObjective, REFERENCE_TAPS, REFERENCE_WEIGHTS, type PretrainWeights } from '../losses/pretrain.js';
import type { Random } from '../runtime/random.js';
import type { Adam } from './adam.js';
import { ProjectionHead, ReconstructionHead, samplePositions, type HeadConfig } from '../model/heads.js';
import type { UNetConfig } from '../model/unet-layout.js';
import { UNet } from '../model/unet.js';

/** Everything pretraining optimises: the U-Net, one projection head per tapped layer, netRec. */
export class PretrainModel {
  readonly unet: UNet;
  readonly heads: ProjectionHead[];
  readonly reconstruction: ReconstructionHead;

  constructor(
    config: UNetConfig,
    heads: HeadConfig,
    readonly taps: number[] = REFERENCE_TAPS,
    random: Random,
  ) {
    this.unet = new UNet(config, random);
    this.heads = taps.map(
      (layer, k) => new ProjectionHead(this.unet.channelsOf(layer), heads, random, `netF.mlp_${k}`, `netF.pred_${k}`),
    );
    this.reconstruction = new ReconstructionHead(config.outputClasses, config.inputChannels, random);
  }

  trainableVariables(): tf.Variable[] {
    return [
      ...this.unet.trainableVariables(),
      ...this.heads.flatMap((h) => h.trainableVariables()),
      this.reconstruction.weight,
    ];
  }

  /**
   * One optimiser step on a pair: `input` and `target` are [2·bs, D, H, W, C] with timepoint A in the
   * first half. Patch positions are drawn afresh per layer. Returns every loss term.
   */
  async step(
    input: tf.Tensor5D,
    target: tf.Tensor5D,
    optimizer: Adam,
    patches: number,
    random: Random,
    weights: PretrainWeights = REFERENCE_WEIGHTS,
  ): Promise<Map<string, number>> {
    const readings = new ScalarReadings();
    const { value, grads } = tf.variableGrads(() => {
      const { logits, features } = this.unet.forward(input, { training: true, taps: this.taps });
      const positions = this.taps.map((layer) => {
        const [, d, h, w] = features.get(layer)!.shape;
        return samplePositions(d * h * w, patches, random);
      });
      const { total, terms } = pretrainObjective(
        {
          taps: this.taps,
          features,
          logits,
          target,
          heads: this.heads,
          reconstructionHead: this.reconstruction,
          positions,
          training: true,
        },
        weights,
      );
      for (const [name, term] of terms) readings.record(name, term);
      return total;
    }, optimizer.variables);
    value.dispose();
    await optimizer.apply(grads);
    return readings.readInto(new Map());
  }
}
