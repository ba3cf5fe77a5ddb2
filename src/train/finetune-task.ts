import * as tf from '@tensorflow/tfjs';
import { ScalarReadings } from '../engine/reads.js';
import { batchSource, type BatchSource, type BatchStream } from '../data/batches.js';
import { centredStart, packCrop, type LabelledBatch, type PairBatch } from '../data/sampler.js';
import type { Subject } from '../data/study.js';
import { keepLargestComponents } from '../infer/largest-component.js';
import { sessionDice } from '../metrics/longitudinal.js';
import { consistencyLoss, diceCrossEntropy, type DiceOptions } from '../losses/segmentation.js';
import { loadUnetTensors } from '../model/checkpoint.js';
import { NO_LEARNING_DICE, saveModel, type ModelInfo } from '../model/model-file.js';
import { readSafetensors } from '../model/safetensors.js';
import { optimizerTensors, restoreOptimizer } from './training-checkpoint.js';
import { decoderLayers, layersBelowLevels } from '../model/unet-layout.js';
import { UNet } from '../model/unet.js';
import { InputError } from '../runtime/errors.js';
import { Random } from '../runtime/random.js';
import { Adam } from './adam.js';
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
  readonly optimizer: Adam;
  readonly trainColumns: string[];
  readonly validationColumns = ['val_dice', 'val_dice_ce'];
  private readonly batches: BatchSource;
  private readonly withLcs: boolean;
  private readonly dice: DiceOptions;
  private readonly seen = new CropStatistics();
  private lastPerClass: Map<number, number> | undefined;
  /** The same after keeping each class's largest region only (the post-processing predict may apply). */
  private lastPerClassLargest: Map<number, number> | undefined;
  private best: Map<number, number> | undefined;
  private warnedAtHalf = false;

  constructor(
    private readonly config: FinetuneConfig,
    readonly info: ModelInfo,
    labelledSubjects: Subject[],
    pairSubjects: Subject[],
    private readonly validation: Subject[],
    /** Label → the other side's label for flipped crops (augmentation.flip.swap_sides). */
    sideSwap?: Int32Array,
  ) {
    this.unet = new UNet(info.unet, new Random(config.seed).fork(1));
    this.optimizer = new Adam(this.unet.trainableVariables(), {
      learningRate: config.optimizer.lr,
      beta1: config.optimizer.beta1,
      beta2: config.optimizer.beta2,
      epsilon: config.optimizer.eps,
    });
    const augment = augmentConfig(config);
    const common = { crop: config.crop, pairing: config.pairing, augment, insideHead: config.crops_inside_head };
    this.withLcs = config.lcs.weight > 0;
    // every step draws its labelled batch, then, at the steps with an Lcs update, its pairs
    const streams: BatchStream[] = [
      {
        kind: 'labelled',
        count: config.batch,
        subjects: labelledSubjects,
        options: { ...common, oversampleForeground: config.oversample_foreground, sideSwap },
      },
    ];
    const schedule = { from: config.lcs.warmup_steps, every: config.lcs.every };
    if (this.withLcs)
      streams.push({
        kind: 'pairs',
        count: config.lcs.batch ?? config.batch,
        subjects: pairSubjects,
        options: common,
        schedule,
      });
    this.batches = batchSource(streams, config.seed, config.prefetch);
    this.dice = {
      smoothNumerator: config.dice.smooth_nr,
      smoothDenominator: config.dice.smooth_dr,
      excludeBackground: config.dice.exclude_background,
    };
    this.trainColumns = this.withLcs ? ['dice_ce', 'lcs'] : ['dice_ce'];
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
    const { modules } = this.unet;
    const exclude = [
      ...(this.config.pretrained_exclude === 'decoder' ? decoderLayers(modules) : this.config.pretrained_exclude),
      ...(this.config.pretrained_levels === 'all' ? [] : layersBelowLevels(modules, this.config.pretrained_levels)),
    ];
    return loadUnetTensors(
      this.unet,
      tensors,
      path,
      new Random(this.config.seed).fork(2),
      this.config.pretrained_head === 'reinitialise',
      new Set(exclude),
    );
  }

  /**
   * One step. With Lcs alternating (the code), a step is two optimiser updates, an Lcs one then a
   * supervised one, so that a run without Lcs gets as many supervised updates; with Lcs summed (the
   * paper), one update of the summed loss. During lcs.warmup_steps, and after it on all but every
   * lcs.every-th step, the supervised update alone.
   */
  async step(step: number, learningRate: number): Promise<Map<string, number>> {
    const [labelled, pairs] = (await this.batches.next(step)) as [LabelledBatch, PairBatch | undefined];
    this.optimizer.options.learningRate = learningRate;
    const readings = new ScalarReadings();
    if (pairs && this.config.lcs.mode === 'alternate') {
      await this.update(() => this.consistencyTerm(pairs, readings));
      await this.update(() => this.supervisedTerm(labelled, readings));
    } else {
      await this.update(
        () =>
          (pairs
            ? this.supervisedTerm(labelled, readings).add(this.consistencyTerm(pairs, readings))
            : this.supervisedTerm(labelled, readings)) as tf.Scalar,
      );
    }
    return readings.readInto(new Map());
  }

  close(): Promise<void> {
    this.optimizer.dispose();
    return this.batches.close();
  }

  private async update(loss: () => tf.Scalar): Promise<void> {
    const { value, grads } = tf.variableGrads(loss, this.optimizer.variables);
    value.dispose();
    await this.optimizer.apply(grads);
  }

  private supervisedTerm(batch: LabelledBatch, readings: ScalarReadings): tf.Scalar {
    this.seen.record(batch.labels);
    const { crop, count, channels } = batch.input;
    const logits = this.unet.forward(tf.tensor5d(batch.input.data, [count, crop[2], crop[1], crop[0], channels]), {
      training: true,
    }).logits;
    const supervised = diceCrossEntropy(
      logits,
      tf.tensor4d(batch.labels, [count, crop[2], crop[1], crop[0]], 'int32'),
      this.dice,
    );
    readings.record('dice_ce', supervised);
    return supervised;
  }

  private consistencyTerm({ input }: PairBatch, readings: ScalarReadings): tf.Scalar {
    const logits = this.unet.forward(
      tf.tensor5d(input.data, [input.count, input.crop[2], input.crop[1], input.crop[0], input.channels]),
      { training: true },
    ).logits;
    const consistency = consistencyLoss(logits, this.config.lcs.soft_targets);
    readings.record('lcs', consistency);
    return consistency.mul(this.config.lcs.weight) as tf.Scalar;
  }

  async validate(): Promise<{ score: number; values: Map<string, number> }> {
    const sessions = this.validation
      .flatMap((s) => s.sessions.filter((x) => x.label))
      .slice(0, this.config.validation_volumes);
    if (sessions.length === 0) return { score: Number.NaN, values: new Map() };
    const perClass = new ClassMeans();
    const perClassLargest = new ClassMeans();
    let dice = 0;
    let loss = 0;
    for (const session of sessions) {
      const crop = validationCrop(session.shape, this.config.validation_crop);
      const start = centredStart(session.shape, crop);
      const input = new Float32Array(crop[0] * crop[1] * crop[2] * session.channels.length);
      packCrop(session.channels, session.shape, start, crop, input, 0);
      const labels = new Float32Array(crop[0] * crop[1] * crop[2]);
      packCrop([session.label!], session.shape, start, crop, labels, 0);
      const [sessionLoss, predicted] = tf.tidy(() => {
        const logits = this.unet.forward(tf.tensor5d(input, [1, crop[2], crop[1], crop[0], session.channels.length]), {
          training: false,
        }).logits;
        return [
          diceCrossEntropy(
            logits,
            tf.tensor4d(Int32Array.from(labels), [1, crop[2], crop[1], crop[0]], 'int32'),
            this.dice,
          ),
          logits.argMax(4),
        ];
      });
      loss += (await sessionLoss.data())[0];
      const predictedLabels = (await predicted.data()) as Int32Array;
      const reference = { data: Int32Array.from(labels) };
      const classes = sessionDice({ data: predictedLabels }, reference);
      tf.dispose([sessionLoss, predicted]);
      perClass.add(classes);
      keepLargestComponents(predictedLabels, crop, classes.keys());
      perClassLargest.add(sessionDice({ data: predictedLabels }, reference));
      dice += classes.size > 0 ? [...classes.values()].reduce((a, b) => a + b) / classes.size : 1;
    }
    this.lastPerClass = perClass.means();
    this.lastPerClassLargest = perClassLargest.means();
    const values = new Map([
      ['val_dice', dice / sessions.length],
      ['val_dice_ce', loss / sessions.length],
    ]);
    return { score: this.config.selection === 'dice' ? -values.get('val_dice')! : values.get('val_dice_ce')!, values };
  }

  /**
   * A warning when validation shows that nothing is being learned: foreground Dice under 0.05 at
   * the end, or from half the steps on (said once there, and again at the end).
   */
  learningWarning(step: number, steps: number, values: Map<string, number>): string | undefined {
    const dice = values.get('val_dice');
    const half = step >= steps / 2;
    if (dice === undefined || dice >= NO_LEARNING_DICE || !half || (this.warnedAtHalf && step < steps))
      return undefined;
    this.warnedAtHalf = true;
    const classes = this.info.unet.outputClasses - 1;
    const { foregroundShare, classesSeen } = this.seen;
    const crops = `${(100 * foregroundShare).toFixed(1)} % of the training crops' voxels are foreground and ${classesSeen} of ${classes} classes were seen`;
    const rare = foregroundShare < 0.25 || classesSeen < classes;
    const causes = [
      `too few steps for ${classes} foreground classes (raise steps or optimizer.lr)`,
      rare
        ? `classes rarely in the crops (${crops}${this.config.oversample_foreground === 0 ? '; set oversample_foreground, e.g. 0.33' : ''})`
        : undefined,
      'label maps that do not match their images (open one over its image in a viewer)',
    ].filter((cause) => cause !== undefined);
    return `validation foreground Dice is ${dice.toFixed(3)} after ${step} of ${steps} steps: the network has not learned to segment. Likely causes: ${causes.join('; ')}${rare ? '' : ` (${crops})`}`;
  }

  /** Validation Dice per class at the best checkpoint, named from the label table. */
  bestPerClass(): string | undefined {
    if (!this.best) return undefined;
    const names = this.info.labels ?? {};
    return [...this.best].map(([label, dice]) => `${names[String(label)] ?? label} ${dice.toFixed(3)}`).join(', ');
  }

  async saveLatest(path: string, state: LoopState): Promise<void> {
    const adam = await optimizerTensors(this.optimizer);
    await saveModel(
      path,
      { unet: this.unet, info: this.info },
      {
        tensors: adam.tensors,
        metadata: { ...adam.metadata, config: JSON.stringify(this.config), state: JSON.stringify(state) },
      },
    );
  }

  async load(path: string): Promise<Record<string, string>> {
    const { tensors, metadata } = await readSafetensors(path);
    loadUnetTensors(this.unet, tensors, path, new Random(0));
    restoreOptimizer(this.optimizer, tensors, metadata, path);
    return metadata;
  }

  async saveBest(path: string, state: LoopState): Promise<void> {
    this.best = this.lastPerClass;
    const validation = this.best && {
      step: state.step,
      dice: meanOf([...this.best.values()]),
      per_class: Object.fromEntries(this.best),
    };
    // nnU-Net's rule: a class keeps its largest region alone where that raised its validation Dice
    const largest = this.lastPerClassLargest;
    const postprocessing = this.best &&
      largest && {
        keep_largest: [...this.best]
          .filter(([label, dice]) => (largest.get(label) ?? 0) > dice)
          .map(([label]) => label),
        per_class_keep_largest: Object.fromEntries(largest),
      };
    await saveModel(
      path,
      { unet: this.unet, info: this.info },
      {
        metadata: {
          config: JSON.stringify(this.config),
          state: JSON.stringify(state),
          ...(validation && { validation: JSON.stringify(validation) }),
          ...(postprocessing && { postprocessing: JSON.stringify(postprocessing) }),
        },
      },
    );
  }
}

function meanOf(values: number[]): number {
  return values.length > 0 ? values.reduce((a, b) => a + b) / values.length : Number.NaN;
}

/** Per-class means over validation volumes (a class counts where it is in the reference or the prediction). */
class ClassMeans {
  private readonly sums = new Map<number, { total: number; count: number }>();

  add(dice: Map<number, number>): void {
    for (const [label, value] of dice) {
      const entry = this.sums.get(label) ?? { total: 0, count: 0 };
      this.sums.set(label, { total: entry.total + value, count: entry.count + 1 });
    }
  }

  means(): Map<number, number> {
    return new Map([...this.sums].sort(([a], [b]) => a - b).map(([label, { total, count }]) => [label, total / count]));
  }
}

/** What the supervised crops held: the share of foreground voxels and the classes met. */
class CropStatistics {
  private voxels = 0;
  private foreground = 0;
  private readonly classes = new Set<number>();

  record(labels: Int32Array): void {
    this.voxels += labels.length;
    for (const label of labels) {
      if (label > 0) {
        this.foreground++;
        this.classes.add(label);
      }
    }
  }

  get foregroundShare(): number {
    return this.voxels > 0 ? this.foreground / this.voxels : 0;
  }

  get classesSeen(): number {
    return this.classes.size;
  }
}
