import { z } from 'zod';
import { REFERENCE_AUGMENT, type AugmentConfig } from '../data/augment.js';
import { REFERENCE_TAPS, REFERENCE_WEIGHTS } from '../losses/pretrain.js';
import { unetModules, type Module } from '../model/unet-layout.js';
import { BACKEND_REQUESTS } from '../engine/backend.js';
import { validateConfig } from '../runtime/config.js';
import { flag } from '../runtime/flags.js';
import { InputError, UsageError } from '../runtime/errors.js';

/**
 * The training configurations, as YAML/JSON files with snake_case keys. Every default reproduces
 * the reference scripts; the paper's variants are options.
 */
const augmentationSchema = z
  .object({
    enabled: z.boolean().default(true),
    flip: z
      .object({
        p: z.number().min(0).max(1).default(REFERENCE_AUGMENT.flip.p),
        /** Exchange Left-X and Right-X labels (dseg.tsv names) of flipped crops; the code keeps them, so a flipped left structure is labelled left. */
        swap_sides: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    affine: z
      .object({
        p: z.number().min(0).max(1).default(REFERENCE_AUGMENT.affine.p),
        scale: z.number().min(0).lt(1).default(REFERENCE_AUGMENT.affine.scale),
        degrees: z.number().min(0).default(REFERENCE_AUGMENT.affine.degrees),
      })
      .strict()
      .prefault({}),
    blur: z
      .object({
        p: z.number().min(0).max(1).default(REFERENCE_AUGMENT.blur.p),
        sigma: z.number().min(0).default(REFERENCE_AUGMENT.blur.sigma),
      })
      .strict()
      .prefault({}),
    noise: z
      .object({
        p: z.number().min(0).max(1).default(REFERENCE_AUGMENT.noise.p),
        std: z.number().min(0).default(REFERENCE_AUGMENT.noise.std),
      })
      .strict()
      .prefault({}),
    bias_field: z
      .object({
        p: z.number().min(0).max(1).default(REFERENCE_AUGMENT.biasField.p),
        coefficient: z.number().min(0).default(REFERENCE_AUGMENT.biasField.coefficient),
        order: z.number().int().min(0).max(5).default(REFERENCE_AUGMENT.biasField.order),
      })
      .strict()
      .prefault({}),
    gamma: z
      .object({
        p: z.number().min(0).max(1).default(REFERENCE_AUGMENT.gamma.p),
        log_gamma: z.number().min(0).default(REFERENCE_AUGMENT.gamma.logGamma),
      })
      .strict()
      .prefault({}),
    motion: z
      .object({
        p: z.number().min(0).max(1).default(REFERENCE_AUGMENT.motion.p),
        degrees: z.number().min(0).default(REFERENCE_AUGMENT.motion.degrees),
        translation: z.number().min(0).default(REFERENCE_AUGMENT.motion.translation),
        transforms: z.number().int().min(1).default(REFERENCE_AUGMENT.motion.transforms),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

const commonShape = {
  seed: z.number().int().min(0).default(0),
  backend: z.enum(BACKEND_REQUESTS).default('auto'),
  /** The preset the file starts from (`paper`, `small`). */
  preset: z.string().optional(),
  /** A registered BIDS tree, or a TSV manifest (subject, session, image, label, age). */
  data: z.string().min(1).meta(flag('Registered BIDS tree (preprocess output, synth registered/) or a TSV manifest')),
  out: z
    .string()
    .min(1)
    .meta(flag('Run folder: config.yaml, split.json, train_log.tsv, latest.safetensors, best.safetensors')),
  /** The label derivative: derivatives/<labels>/. */
  labels: z.string().min(1).default('labels'),
  /** BIDS suffixes, one input channel each. */
  modalities: z.array(z.string().min(1)).min(1).default(['T1w']),
  /** Output classes; default: from the labels' dseg.tsv, else the reference's 33. */
  classes: z.number().int().min(2).optional(),
  model: z
    .object({ base_width: z.number().int().positive().default(16), depth: z.number().int().min(1).max(6).default(4) })
    .strict()
    .prefault({}),
  crop: z.number().int().positive().default(32),
  batch: z.number().int().positive().default(1),
  /** Pairs of sessions: any two distinct ones in either order (the code), or neighbours in time. */
  pairing: z.enum(['any', 'adjacent']).default('any'),
  /** Centre every pair crop on a voxel inside the head instead of anywhere in the volume (the code). */
  crops_inside_head: z.boolean().default(false),
  split: z
    .object({
      train: z.number().min(0).default(70),
      validation: z.number().min(0).default(10),
      test: z.number().min(0).default(20),
      validation_subjects: z.array(z.string().min(1)).optional(),
      test_subjects: z.array(z.string().min(1)).optional(),
    })
    .strict()
    .prefault({}),
  augmentation: augmentationSchema,
  optimizer: z
    .object({
      lr: z.number().positive().default(2e-4),
      beta1: z.number().min(0).lt(1).default(0.5),
      beta2: z.number().min(0).lt(1).default(0.999),
      eps: z.number().positive().default(1e-8),
    })
    .strict()
    .prefault({}),
  /** Training steps in all (a finetuning step with alternating Lcs is two optimiser updates). */
  steps: z.number().int().positive(),
  /** Steps at the full learning rate before the linear decay (the code's n_epochs share: 21/221 in pretraining, 11/211 in finetuning). */
  constant_steps: z.number().int().min(0).optional(),
  validate_every: z.number().int().positive().default(200),
  /** Validation items per validation (the code: 26 in pretraining). */
  validation_volumes: z.number().int().positive().default(26),
  /** Validate on a centred crop of this size instead of whole volumes (faster on CPUs). */
  validation_crop: z.number().int().positive().optional(),
  save_every: z.number().int().positive().default(50),
  /** Steps' batches prepared ahead on a data worker thread; 0: drawn on the main thread between steps. */
  prefetch: z.number().int().min(0).max(16).default(2),
  upper_percentile: z.number().gt(0).max(100).default(99.99),
  /** Replace NaN and infinite voxels of the images with 0 instead of refusing them. */
  nan_to_num: z
    .boolean()
    .default(false)
    .meta(flag('Replace NaN and infinite image voxels with 0 instead of refusing the image')),
};

/** Adds an issue at `key` for every layer id that is not of one of `kinds` in the U-Net the config describes. */
function checkLayers(
  config: { modalities: string[]; model: { base_width: number; depth: number } },
  context: z.RefinementCtx,
  key: string,
  ids: number[],
  kinds: Module['kind'][],
  [one, many]: [string, string],
): void {
  // the class count does not change which layer is which
  const modules = unetModules({
    inputChannels: config.modalities.length,
    outputClasses: 2,
    baseWidth: config.model.base_width,
    depth: config.model.depth,
  });
  const invalid = ids.filter((id) => !kinds.includes(modules[id]?.kind));
  if (invalid.length > 0) {
    context.addIssue({
      code: 'custom',
      path: [key],
      message: `${invalid.join(', ')} ${invalid.length === 1 ? `is not the id of ${one}` : `are not ids of ${many}`} of the U-Net (0…${modules.length - 1})`,
    });
  }
}

/** The crop must be a multiple of 2^depth: the U-Net halves it `depth` times. */
function checkCrop(config: { crop: number; model: { depth: number } }, context: z.RefinementCtx): void {
  const multiple = 2 ** config.model.depth;
  if (config.crop % multiple !== 0) {
    context.addIssue({
      code: 'custom',
      path: ['crop'],
      message: `${config.crop} is not a multiple of ${multiple}: the U-Net (model.depth ${config.model.depth}) halves it ${config.model.depth} times`,
    });
  }
}

export const pretrainSchema = z
  .object({
    ...commonShape,
    taps: z.array(z.number().int().min(0)).min(1).default(REFERENCE_TAPS),
    heads: z
      .object({
        width: z.number().int().positive().default(2048),
        bottleneck: z.number().int().positive().default(512),
      })
      .strict()
      .prefault({}),
    /** Positions M sampled per tapped layer. */
    patches: z.number().int().positive().default(128),
    weights: z
      .object({
        lambda_sim: z.number().min(0).default(REFERENCE_WEIGHTS.lambdaSim),
        sim_weights: z.array(z.number().min(0)).optional(),
        variance: z.array(z.number().min(0)).optional(),
        covariance: z.array(z.number().min(0)).optional(),
        orthogonality: z.number().min(0).default(REFERENCE_WEIGHTS.orthogonality),
        orthogonal_pair: z.tuple([z.number().int(), z.number().int()]).default(REFERENCE_WEIGHTS.orthogonalPair!),
        /** The code squares the cosine; the paper's Eq. 2 does not. */
        orthogonality_squared: z.boolean().default(true),
        reconstruction: z.number().min(0).default(REFERENCE_WEIGHTS.reconstruction),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, context) => {
    checkCrop(config, context);
    checkLayers(config, context, 'taps', config.taps, ['conv'], ['a convolution', 'convolutions']);
    const presetWeights = config.preset
      ? (PRESETS.pretrain[config.preset]?.weights as Record<string, unknown> | undefined)
      : undefined;
    for (const key of ['sim_weights', 'variance', 'covariance'] as const) {
      const list = config.weights[key];
      if (list && list.length !== config.taps.length) {
        const hint = presetWeights?.[key] ? `; preset ${config.preset} sets it for its own taps` : '';
        context.addIssue({
          code: 'custom',
          path: ['weights', key],
          message: `has ${list.length} entries but there are ${config.taps.length} taps (one weight per tapped layer${hint})`,
        });
      }
    }
    const pair = config.weights.orthogonal_pair;
    if (config.weights.orthogonality > 0 && !pair.every((layer) => config.taps.includes(layer))) {
      context.addIssue({
        code: 'custom',
        path: ['weights', 'orthogonal_pair'],
        message: `layers ${pair.join(', ')} must both be tapped (taps: ${config.taps.join(', ')})`,
      });
    }
  });

export const finetuneSchema = z
  .object({
    ...commonShape,
    /** A pretraining checkpoint or a longiseg model; random initialisation when absent. */
    pretrained: z
      .string()
      .min(1)
      .optional()
      .meta(
        flag('Start from a pretraining checkpoint (heads dropped) or a longiseg model', {
          defaultText: 'random initialisation',
        }),
      ),
    /** The pretrained output layer: kept (the code; pretraining trained it through the reconstruction head) or re-initialised. */
    pretrained_head: z.enum(['reuse', 'reinitialise']).default('reuse'),
    /** Layers that keep their initialisation instead of the pretrained values: layer ids, or `decoder`. */
    pretrained_exclude: z.union([z.literal('decoder'), z.array(z.number().int().min(0))]).default([]),
    /** Labelled subjects: all training subjects, or a list of sub-XX (every labelled session) and sub-XX:ses-YY (that session only). */
    labeled: z
      .union([z.literal('all'), z.array(z.string().min(1)).min(1)])
      .default('all')
      .meta(
        flag(
          'Labelled training subjects or sessions, comma-separated: sub-01 (its labelled sessions), sub-01:ses-03 (that session); one = one-shot',
        ),
      ),
    /** Share of labelled crops centred on a voxel of a class present in the label map (nnU-Net's oversample_foreground_percent, 0.33); 0 in the code. */
    oversample_foreground: z.number().min(0).max(1).default(0),
    /** The checkpoint kept as best: lowest validation Dice+CE (the code) or highest mean foreground Dice. */
    selection: z.enum(['loss', 'dice']).default('loss'),
    lcs: z
      .object({
        /** λ_cseg; 0 turns the consistency loss off. */
        weight: z.number().min(0).default(1),
        /** The code alternates an Lcs step and a supervised step; the paper sums both in one loss. */
        mode: z.enum(['alternate', 'sum']).default('alternate'),
        /** The paper's soft-vs-soft Dice instead of the code's soft-vs-detached-argmax. */
        soft_targets: z.boolean().default(false),
        /** Pairs per Lcs step. */
        batch: z.number().int().positive().optional(),
        /** Steps of supervised updates only before Lcs starts (the code has such a warm-up, turned off). */
        warmup_steps: z.number().int().min(0).default(0),
        /** An Lcs update every this many steps after the warm-up (the code: every step). */
        every: z.number().int().positive().default(1),
      })
      .strict()
      .prefault({}),
    dice: z
      .object({
        smooth_nr: z.number().min(0).default(0),
        smooth_dr: z.number().min(0).default(1e-3),
        exclude_background: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, context) => {
    checkCrop(config, context);
    if (config.pretrained_exclude !== 'decoder') {
      checkLayers(
        config,
        context,
        'pretrained_exclude',
        config.pretrained_exclude,
        ['conv', 'bn'],
        ['a convolution or BatchNorm', 'convolutions or BatchNorms'],
      );
    }
  });

export type PretrainConfig = z.output<typeof pretrainSchema>;
export type FinetuneConfig = z.output<typeof finetuneSchema>;
export type TrainingConfig = PretrainConfig | FinetuneConfig;

/** Named starting points for --config; a file may name one with `preset:` and override keys. */
/** The reference code's n_epochs share of steps at the full learning rate, when constant_steps is not set. */
export const CONSTANT_SHARE = { pretrain: 21 / 221, finetune: 11 / 211 } as const;

/** Steps at the full learning rate: constant_steps, else the code's share of the steps. */
export function constantSteps(
  kind: keyof typeof CONSTANT_SHARE,
  config: { steps: number; constant_steps?: number },
): number {
  return config.constant_steps ?? Math.round(config.steps * CONSTANT_SHARE[kind]);
}

export const PRESETS: Record<'pretrain' | 'finetune', Record<string, Record<string, unknown>>> = {
  pretrain: {
    /** The reference script: crop 32, M 128, nine 2048-wide heads; the paper's 30,000 steps with the code's 21/221 constant share. */
    paper: {
      crop: 32,
      batch: 1,
      patches: 128,
      heads: { width: 2048, bottleneck: 512 },
      model: { base_width: 16 },
      steps: 30000,
      validate_every: 200,
      save_every: 400,
    },
    /**
     * A laptop CPU: ngf 8, 256-wide heads, 32 positions per layer; variance and covariance at VICReg's
     * proportions, as the reference's 1e-3 lets short runs collapse the features (docs/training.md).
     */
    small: {
      crop: 32,
      batch: 1,
      patches: 32,
      heads: { width: 256, bottleneck: 64 },
      model: { base_width: 8 },
      weights: { variance: [0, 0, 0, 0, 0, 0, 1, 1, 1], covariance: [0, 0, 0, 0, 0, 0, 0.04, 0.04, 0.04] },
      steps: 300,
      constant_steps: 100,
      validate_every: 100,
      validation_volumes: 4,
      validation_crop: 64,
      save_every: 25,
    },
  },
  finetune: {
    /** The Lcs script's schedule and crop 128, batch 3 (needs a GPU). */
    paper: {
      crop: 128,
      batch: 3,
      model: { base_width: 16 },
      steps: 35000,
      validate_every: 40,
      save_every: 80,
      lcs: { weight: 1 },
    },
    /**
     * A laptop CPU, tuned on one-shot finetuning of the realistic structures cohort (docs/training.md):
     * every crop centred on a labelled class, crops and Lcs pairs inside the head, left-right flips
     * that swap the sides' labels, milder augmentation than the reference's, a higher learning rate
     * with β1 0.9, the checkpoint of best validation Dice; small structures need 1,200 or more
     * supervised updates, so an Lcs update comes every third step, and 1,320 steps fill 13 minutes
     * on two cores. Loads only the encoder and bottleneck: after a short pretraining the decoder's
     * features are collapsed.
     */
    small: {
      crop: 32,
      batch: 2,
      model: { base_width: 8 },
      steps: 1320,
      constant_steps: 440,
      validate_every: 200,
      validation_volumes: 4,
      save_every: 25,
      oversample_foreground: 1,
      crops_inside_head: true,
      selection: 'dice',
      optimizer: { lr: 0.003, beta1: 0.9 },
      augmentation: {
        flip: { swap_sides: true },
        affine: { p: 0.5, scale: 0.1, degrees: 10 },
        blur: { p: 0.2, sigma: 0.5 },
        noise: { p: 0.2, std: 0.03 },
        bias_field: { p: 0.2, coefficient: 0.2 },
        gamma: { p: 0.3, log_gamma: 0.2 },
        motion: { p: 0 },
      },
      lcs: { weight: 1, batch: 1, every: 3 },
      pretrained_exclude: 'decoder',
    },
  },
};

/** The augmentation section as the sampler takes it; undefined when turned off. */
export function augmentConfig(config: TrainingConfig): AugmentConfig | undefined {
  const a = config.augmentation;
  if (!a.enabled) return undefined;
  return {
    flip: { p: a.flip.p },
    affine: a.affine,
    blur: a.blur,
    noise: a.noise,
    biasField: a.bias_field,
    gamma: { p: a.gamma.p, logGamma: a.gamma.log_gamma },
    motion: a.motion,
  };
}

/**
 * The run configuration a checkpoint stores (`config` in its metadata), validated as a config file
 * is: a checkpoint edited by hand or written by an incompatible version is refused, naming it (exit 3).
 */
export function storedConfig<S extends z.ZodType>(
  schema: S,
  metadata: Record<string, string>,
  path: string,
): z.output<S> {
  let stored: unknown;
  try {
    stored = JSON.parse(metadata.config ?? '');
  } catch {
    throw new InputError(path, 'holds no readable run configuration (metadata "config")');
  }
  try {
    return validateConfig(schema, stored, 'its stored run configuration');
  } catch (error) {
    if (error instanceof UsageError) throw new InputError(path, error.message);
    throw error;
  }
}
