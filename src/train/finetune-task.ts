import * as tf from '@tensorflow/tfjs';
import { centredStart, packCrop, Sampler } from '../data/sampler.js';
import type { Subject } from '../data/study.js';
import { sessionDice } from '../metrics/longitudinal.js';
import { consistencyLoss, diceCrossEntropy, type DiceOptions } from '../losses/segmentation.js';
import { loadUnetTensors } from '../model/checkpoint.js';
import { saveModel, type ModelInfo } from '../model/model-file.js';
import { readSafetensors } from '../model/safetensors.js';
import { optimizerTensors } from '../model/training-checkpoint.js';
import { decoderLayers } from '../model/unet-layout.js';
import { UNet } from '../model/unet.js';
import { InputError } from '../runtime/errors.js';
import { Random } from '../runtime/random.js';
import { HostAdam } from './adam.js';
import { augmentConfig, type FinetuneConfig } from './config.js';
import type { LoopState, TrainingTask } from './loop.js';
import { validationCrop } from './study-setup.js';

/**
 * Supervised Dice+CE on the labelled sessions plus, unless its weight is 0, the longitudinal
 * consistency loss Lcs on unlabeled pairs: alternating optimiser steps (the code) or one summed loss
 * (the paper). Validation: mean Dice over the foreground classes of the validation subjects' labelled
 * sessions, BN in evaluation mode; the best one is kept.
 */
export class FinetuneTask implements TrainingTask {
  readonly unet: UNet;
  readonly optimizer: HostAdam;
  readonly trainColumns: string[];
  readonly validationColumns = ['val_dice', 'val_dice_ce'];
  private readonly labelled: Sampler;
  private readonly pairs: Sampler | undefined;
  private readonly dice: DiceOptions;

  constructor(
    private readonly config: FinetuneConfig,
    readonly info: ModelInfo,
    labelledSubjects: Subject[],
    pairSubjects: Subject[],
    private readonly validation: Subject[],
    private readonly random: Random,
  ) {
    this.unet = new UNet(info.unet, new Random(config.seed).fork(1));
    this.optimizer = new HostAdam(this.unet.trainableVariables(), { learningRate: config.optimizer.lr, beta1: config.optimizer.beta1, beta2: config.optimizer.beta2, epsilon: config.optimizer.eps });
    const augment = augmentConfig(config);
    this.labelled = new Sampler(labelledSubjects, { crop: config.crop, pairing: config.pairing, augment });
    this.pairs = config.lcs.weight > 0 ? new Sampler(pairSubjects, { crop: config.crop, pairing: config.pairing, augment }) : undefined;
    this.dice = { smoothNumerator: config.dice.smooth_nr, smoothDenominator: config.dice.smooth_dr, excludeBackground: config.dice.exclude_background };
    this.trainColumns = this.pairs ? ['dice_ce', 'lcs'] : ['dice_ce'];
  }

  /**
   * Starts from a pretraining checkpoint or a longiseg model (heads dropped; the output layer
   * re-initialised when the classes differ or the config asks). Excluded layers keep this run's
   * initialisation, the one a run without --pretrained starts from.
   */
  async loadPretrained(path: string): Promise<{ reinitialisedHead: boolean }> {
    const { tensors, metadata } = await readSafetensors(path);
    if (!['longiseg-pretrain-1', 'longiseg-model-1'].includes(metadata.format ?? '')) {
      throw new InputError(path, 'is neither a longiseg pretraining checkpoint nor a longiseg model');
    }
    const exclude = this.config.pretrained_exclude === 'decoder' ? decoderLayers(this.unet.modules) : this.config.pretrained_exclude;
    return loadUnetTensors(this.unet, tensors, path, new Random(this.config.seed).fork(2), this.config.pretrained_head === 'reinitialise', new Set(exclude));
  }

  step(step: number, learningRate: number): Map<string, number> {
    this.optimizer.options.learningRate = learningRate;
    const alternate = this.config.lcs.mode === 'alternate';
    const consistencyOnly = this.pairs && alternate && step % 2 === 0;
    const supervisedOnly = !this.pairs || (alternate && !consistencyOnly);
    const values = new Map<string, number>();
    const { value, grads } = tf.variableGrads(() => {
      let loss = tf.scalar(0);
      if (!consistencyOnly) {
        const batch = this.labelled.labelled(this.config.batch, this.random);
        const { crop, count, channels } = batch.input;
        const logits = this.unet.forward(tf.tensor5d(batch.input.data, [count, crop[2], crop[1], crop[0], channels]), { training: true }).logits;
        const supervised = diceCrossEntropy(logits, tf.tensor4d(batch.labels, [count, crop[2], crop[1], crop[0]], 'int32'), this.dice);
        values.set('dice_ce', supervised.dataSync()[0]);
        loss = loss.add(supervised);
      }
      if (!supervisedOnly) {
        const { input } = this.pairs!.pairs(this.config.lcs.batch ?? this.config.batch, this.random);
        const logits = this.unet.forward(tf.tensor5d(input.data, [input.count, input.crop[2], input.crop[1], input.crop[0], input.channels]), { training: true }).logits;
        const consistency = consistencyLoss(logits, this.config.lcs.soft_targets);
        values.set('lcs', consistency.dataSync()[0]);
        loss = loss.add(consistency.mul(this.config.lcs.weight));
      }
      return loss as tf.Scalar;
    }, this.optimizer.variables);
    value.dispose();
    this.optimizer.apply(grads);
    return values;
  }

  validate(): { score: number; values: Map<string, number> } {
    const sessions = this.validation.flatMap((s) => s.sessions.filter((x) => x.label)).slice(0, this.config.validation_volumes);
    if (sessions.length === 0) return { score: Number.NaN, values: new Map() };
    let dice = 0;
    let loss = 0;
    for (const session of sessions) {
      const crop = validationCrop(session.shape, this.config.validation_crop);
      const start = centredStart(session.shape, crop);
      const input = new Float32Array(crop[0] * crop[1] * crop[2] * session.channels.length);
      packCrop(session.channels, session.shape, start, crop, input, 0);
      const labels = new Float32Array(crop[0] * crop[1] * crop[2]);
      packCrop([session.label!], session.shape, start, crop, labels, 0);
      tf.tidy(() => {
        const logits = this.unet.forward(tf.tensor5d(input, [1, crop[2], crop[1], crop[0], session.channels.length]), { training: false }).logits;
        loss += diceCrossEntropy(logits, tf.tensor4d(Int32Array.from(labels), [1, crop[2], crop[1], crop[0]], 'int32'), this.dice).dataSync()[0];
        dice += meanForegroundDice(logits.argMax(4).dataSync() as Int32Array, labels);
      });
    }
    const values = new Map([
      ['val_dice', dice / sessions.length],
      ['val_dice_ce', loss / sessions.length],
    ]);
    return { score: -values.get('val_dice')!, values };
  }

  async saveLatest(path: string, state: LoopState): Promise<void> {
    const adam = optimizerTensors(this.optimizer);
    await saveModel(path, { unet: this.unet, info: this.info }, { tensors: adam.tensors, metadata: { ...adam.metadata, config: JSON.stringify(this.config), state: JSON.stringify(state) } });
  }

  async saveBest(path: string, state: LoopState): Promise<void> {
    await saveModel(path, { unet: this.unet, info: this.info }, { metadata: { config: JSON.stringify(this.config), state: JSON.stringify(state) } });
  }
}

/** Dice of every foreground class present in the reference or the prediction, averaged (1 when there is none). */
function meanForegroundDice(prediction: Int32Array, reference: Float32Array): number {
  const dice = [...sessionDice({ data: prediction }, { data: Int32Array.from(reference) }).values()];
  return dice.length > 0 ? dice.reduce((a, b) => a + b) / dice.length : 1;
}
