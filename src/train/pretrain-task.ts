import * as tf from '@tensorflow/tfjs';
import { ScalarReadings } from '../engine/reads.js';
import { batchSource, type BatchSource } from '../data/batches.js';
import { centredStart, packCrop, type PairBatch } from '../data/sampler.js';
import type { Subject } from '../data/study.js';
import { pretrainObjective, REFERENCE_TAPS, REFERENCE_WEIGHTS, type PretrainWeights } from '../losses/pretrain.js';
import { samplePositions } from '../model/heads.js';
import { PretrainModel } from './pretrain-model.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from './training-checkpoint.js';
import { Random, stepRandom } from '../runtime/random.js';
import { Adam } from './adam.js';
import { augmentConfig, type PretrainConfig } from './config.js';
import type { LoopState, TrainingTask } from './loop.js';
import { validationCrop } from './study-setup.js';

/** The objective's weights: the reference lists for the reference taps, else sim 1 and no variance/covariance terms. */
export function pretrainWeights(config: PretrainConfig): PretrainWeights {
  const reference = JSON.stringify(config.taps) === JSON.stringify(REFERENCE_TAPS);
  const list = (given: number[] | undefined, fallback: number[], otherwise: number) =>
    given ?? (reference ? fallback : config.taps.map(() => otherwise));
  const w = config.weights;
  return {
    lambdaSim: w.lambda_sim,
    simWeights: list(w.sim_weights, REFERENCE_WEIGHTS.simWeights, 1),
    variance: list(w.variance, REFERENCE_WEIGHTS.variance, 0),
    covariance: list(w.covariance, REFERENCE_WEIGHTS.covariance, 0),
    orthogonality: w.orthogonality,
    orthogonalPair: w.orthogonal_pair,
    orthogonalitySquared: w.orthogonality_squared,
    reconstruction: w.reconstruction,
  };
}

/** The pretraining objective L_PT on pairs of sessions, as a TrainingTask. */
export class PretrainTask implements TrainingTask {
  readonly model: PretrainModel;
  readonly optimizer: Adam;
  readonly trainColumns: string[];
  readonly validationColumns: string[];
  private readonly weights: PretrainWeights;
  private readonly batches: BatchSource;

  constructor(
    private readonly config: PretrainConfig,
    classes: number,
    train: Subject[],
    private readonly validation: Subject[],
  ) {
    const init = new Random(config.seed).fork(1);
    this.model = new PretrainModel(
      {
        inputChannels: config.modalities.length,
        outputClasses: classes,
        baseWidth: config.model.base_width,
        depth: config.model.depth,
      },
      config.heads,
      config.taps,
      init,
    );
    this.optimizer = new Adam(this.model.trainableVariables(), {
      learningRate: config.optimizer.lr,
      beta1: config.optimizer.beta1,
      beta2: config.optimizer.beta2,
      epsilon: config.optimizer.eps,
    });
    this.weights = pretrainWeights(config);
    const options = {
      crop: config.crop,
      pairing: config.pairing,
      augment: augmentConfig(config),
      insideHead: config.crops_inside_head,
    };
    this.batches = batchSource(
      [{ kind: 'pairs', count: config.batch, subjects: train, options }],
      config.seed,
      config.prefetch,
    );
    const terms = [
      ...config.taps.map((layer) => `sim_${layer}`),
      ...config.taps.flatMap((layer, k) =>
        this.weights.variance[k] > 0 || this.weights.covariance[k] > 0 ? [`var_${layer}`, `cov_${layer}`] : [],
      ),
      ...(this.weights.orthogonality > 0 ? ['ortho'] : []),
      ...(this.weights.reconstruction > 0 ? ['rec'] : []),
      'pretrain_total',
    ];
    this.trainColumns = terms;
    this.validationColumns = terms.map((term) => `val_${term}`);
  }

  async step(step: number, learningRate: number): Promise<Map<string, number>> {
    const [{ input, target }] = (await this.batches.next(step)) as [PairBatch];
    this.optimizer.options.learningRate = learningRate;
    const shape = (b: typeof input): [number, number, number, number, number] => [
      b.count,
      b.crop[2],
      b.crop[1],
      b.crop[0],
      b.channels,
    ];
    const x = tf.tensor5d(input.data, shape(input));
    const y = tf.tensor5d(target.data, shape(target));
    try {
      return this.model.step(
        x,
        y,
        this.optimizer,
        this.config.patches,
        stepRandom(this.config.seed, 'model', step),
        this.weights,
      );
    } finally {
      x.dispose();
      y.dispose();
    }
  }

  /**
   * The same objective on un-augmented pairs of consecutive sessions of the validation subjects, BN in
   * evaluation mode, with patch positions fixed by the seed so that successive validations compare.
   */
  async validate(): Promise<{ score: number; values: Map<string, number> }> {
    const pairs = this.validation
      .flatMap((s) => s.sessions.slice(1).map((b, i) => [s.sessions[i], b] as const))
      .slice(0, this.config.validation_volumes);
    const sums = new Map<string, number>();
    for (const [item, [a, b]] of pairs.entries()) {
      const positionsRandom = new Random(this.config.seed).fork(1000 + item);
      const crop = validationCrop(a.shape, this.config.validation_crop);
      const start = centredStart(a.shape, crop);
      const channels = a.channels.length;
      const data = new Float32Array(2 * crop[0] * crop[1] * crop[2] * channels);
      packCrop(a.channels, a.shape, start, crop, data, 0);
      packCrop(b.channels, b.shape, start, crop, data, 1);
      const readings = new ScalarReadings();
      tf.tidy(() => {
        const x = tf.tensor5d(data, [2, crop[2], crop[1], crop[0], channels]);
        const { logits, features } = this.model.unet.forward(x, { training: false, taps: this.model.taps });
        const positions = this.model.taps.map((layer) => {
          const [, d, h, w] = features.get(layer)!.shape;
          return samplePositions(d * h * w, this.config.patches, positionsRandom);
        });
        const objective = pretrainObjective(
          {
            taps: this.model.taps,
            features,
            logits,
            target: x,
            heads: this.model.heads,
            reconstructionHead: this.model.reconstruction,
            positions,
            training: false,
          },
          this.weights,
        );
        for (const [name, value] of objective.terms) readings.record(name, value);
      });
      for (const [name, value] of await readings.readInto(new Map()))
        sums.set(`val_${name}`, (sums.get(`val_${name}`) ?? 0) + value / pairs.length);
    }
    return { score: sums.get('val_pretrain_total') ?? Number.NaN, values: sums };
  }

  close(): Promise<void> {
    this.optimizer.dispose();
    return this.batches.close();
  }

  saveLatest(path: string, state: LoopState): Promise<void> {
    return saveTrainingCheckpoint(path, this.model, this.optimizer, this.config, { state: JSON.stringify(state) });
  }

  saveBest(path: string, state: LoopState): Promise<void> {
    return this.saveLatest(path, state);
  }

  async load(path: string): Promise<Record<string, string>> {
    return (await loadTrainingCheckpoint(path, this.model, this.optimizer, new Random(0))).metadata;
  }
}
