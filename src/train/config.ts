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
    enabled: z.boolean().default(true).describe('All augmentations on or off; a pair gets the identical transform.'),
    flip: z
      .object({
        p: z
          .number()
          .min(0)
          .max(1)
          .default(REFERENCE_AUGMENT.flip.p)
          .describe('Probability of a random left-right flip.'),
        swap_sides: z
          .boolean()
          .default(false)
          .describe(
            'Exchange the labels of Left-X and Right-X structures (names in dseg.tsv) in flipped crops, so that a flipped left structure is labelled right; the code keeps the labels.',
          ),
      })
      .strict()
      .prefault({}),
    affine: z
      .object({
        p: z
          .number()
          .min(0)
          .max(1)
          .default(REFERENCE_AUGMENT.affine.p)
          .describe('Probability of a random affine (scale and rotation).'),
        scale: z
          .number()
          .min(0)
          .lt(1)
          .default(REFERENCE_AUGMENT.affine.scale)
          .describe('Largest relative scale change.'),
        degrees: z
          .number()
          .min(0)
          .default(REFERENCE_AUGMENT.affine.degrees)
          .describe('Largest rotation about each axis, degrees.'),
      })
      .strict()
      .prefault({}),
    blur: z
      .object({
        p: z.number().min(0).max(1).default(REFERENCE_AUGMENT.blur.p).describe('Probability of a Gaussian blur.'),
        sigma: z.number().min(0).default(REFERENCE_AUGMENT.blur.sigma).describe('Largest blur σ, voxels.'),
      })
      .strict()
      .prefault({}),
    noise: z
      .object({
        p: z
          .number()
          .min(0)
          .max(1)
          .default(REFERENCE_AUGMENT.noise.p)
          .describe('Probability of additive Gaussian noise.'),
        std: z
          .number()
          .min(0)
          .default(REFERENCE_AUGMENT.noise.std)
          .describe('Largest noise standard deviation (normalised intensities).'),
      })
      .strict()
      .prefault({}),
    bias_field: z
      .object({
        p: z
          .number()
          .min(0)
          .max(1)
          .default(REFERENCE_AUGMENT.biasField.p)
          .describe('Probability of a multiplicative polynomial bias field.'),
        coefficient: z
          .number()
          .min(0)
          .default(REFERENCE_AUGMENT.biasField.coefficient)
          .describe('Largest magnitude of the polynomial coefficients.'),
        order: z
          .number()
          .int()
          .min(0)
          .max(5)
          .default(REFERENCE_AUGMENT.biasField.order)
          .describe('Order of the polynomial.'),
      })
      .strict()
      .prefault({}),
    gamma: z
      .object({
        p: z
          .number()
          .min(0)
          .max(1)
          .default(REFERENCE_AUGMENT.gamma.p)
          .describe('Probability of a gamma change of contrast.'),
        log_gamma: z.number().min(0).default(REFERENCE_AUGMENT.gamma.logGamma).describe('log γ drawn from ±this.'),
      })
      .strict()
      .prefault({}),
    motion: z
      .object({
        p: z
          .number()
          .min(0)
          .max(1)
          .default(REFERENCE_AUGMENT.motion.p)
          .describe('Probability of simulated k-space motion artefacts.'),
        degrees: z
          .number()
          .min(0)
          .default(REFERENCE_AUGMENT.motion.degrees)
          .describe('Largest rotation of a simulated movement, degrees.'),
        translation: z
          .number()
          .min(0)
          .default(REFERENCE_AUGMENT.motion.translation)
          .describe('Largest translation of a simulated movement, mm.'),
        transforms: z
          .number()
          .int()
          .min(1)
          .default(REFERENCE_AUGMENT.motion.transforms)
          .describe('Movements per simulated scan.'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

const commonShape = {
  seed: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Seed of every random choice (split, crops, augmentation, initialisation).'),
  backend: z
    .enum(BACKEND_REQUESTS)
    .default('auto')
    .describe(
      'tfjs back end: auto picks tfjs-node-gpu, then tfjs-node, then WebGPU on a hardware GPU, then WebAssembly; webgpu also takes a software adapter (tests).',
    ),
  preset: z
    .string()
    .optional()
    .describe('The preset the file starts from (paper, small); keys in the file override it.'),
  data: z
    .string()
    .min(1)
    .meta(flag('Registered BIDS tree (preprocess output, synth registered/) or a TSV manifest'))
    .describe(
      'A registered BIDS tree (preprocess output, synth registered/) or a TSV manifest (subject, session, image, label, age).',
    ),
  out: z
    .string()
    .min(1)
    .meta(flag('Run folder: config.yaml, split.json, train_log.tsv, latest.safetensors, best.safetensors'))
    .describe('Run folder: config.yaml, split.json, train_log.tsv, latest.safetensors, best.safetensors.'),
  labels: z.string().min(1).default('labels').describe('Name of the label derivative: derivatives/<labels>/.'),
  modalities: z
    .array(z.string().min(1))
    .min(1)
    .default(['T1w'])
    .describe('BIDS suffixes, one input channel each, the first drives everything else.'),
  classes: z
    .number()
    .int()
    .min(2)
    .optional()
    .describe("Output classes; default: from the labels' dseg.tsv, else the reference's 33."),
  model: z
    .object({
      base_width: z
        .number()
        .int()
        .positive()
        .default(16)
        .describe('Channels of the first U-Net level (ngf); doubled at each level down.'),
      depth: z
        .number()
        .int()
        .min(1)
        .max(6)
        .default(4)
        .describe('Down-sampling levels of the U-Net; image sizes must divide by 2^depth.'),
    })
    .strict()
    .prefault({}),
  crop: z
    .number()
    .int()
    .positive()
    .default(32)
    .describe('Edge of the cubic random crop in voxels, shared by both sessions of a pair.'),
  batch: z.number().int().positive().default(1).describe('Pairs (pretrain) or labelled crops (finetune) per step.'),
  pairing: z
    .enum(['any', 'adjacent'])
    .default('any')
    .describe('Pairs of sessions: any two distinct ones in either order (the code), or neighbours in time.'),
  crops_inside_head: z
    .boolean()
    .default(false)
    .describe(
      'Centre every pair crop (pretraining, Lcs) and every labelled crop not centred on a class on a voxel inside the head, never in the empty background; the code crops anywhere.',
    ),
  split: z
    .object({
      train: z.number().min(0).default(70).describe('Share of subjects for training (percent; subject-wise, seeded).'),
      validation: z.number().min(0).default(10).describe('Share of subjects for validation.'),
      test: z.number().min(0).default(20).describe('Share of subjects held out for testing.'),
      validation_subjects: z
        .array(z.string().min(1))
        .optional()
        .describe('Explicit validation subjects (sub-XX), instead of the shares.'),
      test_subjects: z.array(z.string().min(1)).optional().describe('Explicit test subjects, instead of the shares.'),
    })
    .strict()
    .prefault({}),
  augmentation: augmentationSchema,
  optimizer: z
    .object({
      lr: z
        .number()
        .positive()
        .default(2e-4)
        .describe('Adam learning rate (constant, then a linear decay that ends at 1/(decay steps + 1) of it).'),
      beta1: z.number().min(0).lt(1).default(0.5).describe('Adam β1 (0.5 as the code).'),
      beta2: z.number().min(0).lt(1).default(0.999).describe('Adam β2.'),
      eps: z.number().positive().default(1e-8).describe('Adam ε.'),
    })
    .strict()
    .prefault({}),
  steps: z
    .number()
    .int()
    .positive()
    .describe(
      'Training steps in all; with lcs.mode alternate a finetuning step is two optimiser updates, an Lcs one and a supervised one (the code counts so).',
    ),
  constant_steps: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      "Steps at the full learning rate before the linear decay (default: the code's share of steps, 21/221 in pretraining and 11/211 in finetuning).",
    ),
  validate_every: z
    .number()
    .int()
    .positive()
    .default(200)
    .describe('Steps between validations (which pick best.safetensors).'),
  validation_volumes: z
    .number()
    .int()
    .positive()
    .default(26)
    .describe('Validation items per validation (the code: 26 in pretraining).'),
  validation_crop: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Validate on a centred crop of this size instead of whole volumes (faster on CPUs).'),
  save_every: z
    .number()
    .int()
    .positive()
    .default(50)
    .describe('Steps between saves of latest.safetensors (also saved on SIGTERM and at --time-limit).'),
  prefetch: z
    .number()
    .int()
    .min(0)
    .max(16)
    .default(2)
    .describe(
      'Steps whose batches a data worker thread prepares (crops, augmentation) while the current step computes; 0 draws them on the main thread between steps. The batches are the same either way.',
    ),
  upper_percentile: z
    .number()
    .gt(0)
    .max(100)
    .default(99.99)
    .describe('Intensity normalisation: (x − min) / (P − min) with P this percentile (the reference: 99.99).'),
  nan_to_num: z
    .boolean()
    .default(false)
    .meta(flag('Replace NaN and infinite image voxels with 0 instead of refusing the image'))
    .describe(
      'Replace NaN and infinite image voxels with 0 (and say how many) instead of refusing the image (exit 3).',
    ),
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
    taps: z
      .array(z.number().int().min(0))
      .min(1)
      .default(REFERENCE_TAPS)
      .describe("U-Net layers whose features enter the similarity loss (the reference's nine)."),
    heads: z
      .object({
        width: z
          .number()
          .int()
          .positive()
          .default(2048)
          .describe('Width of each projection head (the reference: 2048).'),
        bottleneck: z.number().int().positive().default(512).describe('Bottleneck width of each prediction head.'),
      })
      .strict()
      .prefault({}),
    patches: z
      .number()
      .int()
      .positive()
      .default(128)
      .describe('Positions M sampled per tapped layer for the patchwise similarity.'),
    weights: z
      .object({
        lambda_sim: z
          .number()
          .min(0)
          .default(REFERENCE_WEIGHTS.lambdaSim)
          .describe('Weight of the multi-scale patchwise similarity loss.'),
        sim_weights: z
          .array(z.number().min(0))
          .optional()
          .describe('Per-tap weights of the similarity loss (one per entry of taps).'),
        variance: z.array(z.number().min(0)).optional().describe('Per-tap weights of the variance regulariser.'),
        covariance: z.array(z.number().min(0)).optional().describe('Per-tap weights of the covariance regulariser.'),
        orthogonality: z
          .number()
          .min(0)
          .default(REFERENCE_WEIGHTS.orthogonality)
          .describe('Weight of the orthogonality regulariser.'),
        orthogonal_pair: z
          .tuple([z.number().int(), z.number().int()])
          .default(REFERENCE_WEIGHTS.orthogonalPair!)
          .describe('The two tapped layers whose features the orthogonality regulariser decorrelates.'),
        orthogonality_squared: z
          .boolean()
          .default(true)
          .describe("Square the cosine (the code) or not (the paper's Eq. 2)."),
        reconstruction: z
          .number()
          .min(0)
          .default(REFERENCE_WEIGHTS.reconstruction)
          .describe('Weight of the denoising reconstruction loss.'),
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
    pretrained: z
      .string()
      .min(1)
      .optional()
      .meta(
        flag('Start from a pretraining checkpoint (heads dropped) or a longiseg model', {
          defaultText: 'random initialisation',
        }),
      )
      .describe(
        'A pretraining checkpoint or longiseg model to start from (heads dropped); random initialisation when absent.',
      ),
    pretrained_head: z
      .enum(['reuse', 'reinitialise'])
      .default('reuse')
      .describe(
        'The pretrained output layer: reuse (the code; pretraining trained it through the reconstruction head) or reinitialise. A new number of classes always re-initialises it.',
      ),
    pretrained_exclude: z
      .union([z.literal('decoder'), z.array(z.number().int().min(0))])
      .default([])
      .describe(
        'Layers that keep their initialisation instead of the pretrained values (the run without --pretrained starts from the same one): a list of layer ids (convolutions and BatchNorms), or decoder (every layer after the first upsampling, output layer included).',
      ),
    pretrained_levels: z
      .union([z.literal('all'), z.number().int().min(1)])
      .default('all')
      .describe(
        "Take only the encoder's first N resolution levels from --pretrained (1 … model.depth): every layer after the N-th pooling (deeper levels, bottleneck, decoder) keeps its initialisation, as pretrained_exclude does; or all.",
      ),
    labeled: z
      .union([z.literal('all'), z.array(z.string().min(1)).min(1)])
      .default('all')
      .meta(
        flag(
          'Labelled training subjects or sessions, comma-separated: sub-01 (its labelled sessions), sub-01:ses-03 (that session); one = one-shot',
        ),
      )
      .describe(
        'Labelled training data: all, or a list of subjects (sub-01: every labelled session) and sessions (sub-01:ses-03: that session alone; the other sessions serve in pairs). One entry = one-shot.',
      ),
    oversample_foreground: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe(
        'Share of labelled crops centred on a voxel of a foreground class drawn uniformly from those the session holds (nnU-Net: 0.33); 0 as the code, which crops anywhere.',
      ),
    selection: z
      .enum(['loss', 'dice'])
      .default('loss')
      .describe(
        'Which validation picks best.safetensors: loss, the lowest Dice+CE (the code), or dice, the highest mean foreground Dice.',
      ),
    lcs: z
      .object({
        weight: z
          .number()
          .min(0)
          .default(1)
          .describe('λ_cseg, weight of the longitudinal consistency loss; 0 turns it off.'),
        mode: z
          .enum(['alternate', 'sum'])
          .default('alternate')
          .describe(
            'alternate: every step an Lcs update, then a supervised update (the code); sum: one update of the summed loss (the paper).',
          ),
        soft_targets: z
          .boolean()
          .default(false)
          .describe("The paper's soft-vs-soft Dice instead of the code's soft-vs-detached-argmax."),
        batch: z.number().int().positive().optional().describe('Unlabelled pairs per Lcs step (default: batch).'),
        warmup_steps: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe(
            "Steps at the start with the supervised update only: Lcs compares the network's own predictions of two sessions, which mean nothing before it has learned to segment. The code has a 1,000-iteration warm-up of this kind, turned off (0).",
          ),
        every: z
          .number()
          .int()
          .positive()
          .default(1)
          .describe(
            'An Lcs update every this many steps after the warm-up; the steps between have the supervised update alone. 1 (every step) is the code; a larger value buys supervised updates where the budget is short.',
          ),
      })
      .strict()
      .prefault({}),
    dice: z
      .object({
        smooth_nr: z.number().min(0).default(0).describe('Dice numerator smoothing of the supervised loss.'),
        smooth_dr: z.number().min(0).default(1e-3).describe('Dice denominator smoothing of the supervised loss.'),
        exclude_background: z.boolean().default(false).describe('Leave the background class out of the Dice term.'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, context) => {
    checkCrop(config, context);
    if (config.pretrained_levels !== 'all' && config.pretrained_levels > config.model.depth) {
      context.addIssue({
        code: 'custom',
        path: ['pretrained_levels'],
        message: `${config.pretrained_levels} is more than the U-Net's ${config.model.depth} encoder levels (model.depth)`,
      });
    }
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

/** The reference code's n_epochs share of steps at the full learning rate, when constant_steps is not set. */
export const CONSTANT_SHARE = { pretrain: 21 / 221, finetune: 11 / 211 } as const;

/** Steps at the full learning rate: constant_steps, else the code's share of the steps. */
export function constantSteps(
  kind: keyof typeof CONSTANT_SHARE,
  config: { steps: number; constant_steps?: number },
): number {
  return config.constant_steps ?? Math.round(config.steps * CONSTANT_SHARE[kind]);
}

/** Named starting points for --config; a file may name one with `preset:` and override keys. */
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
     * proportions, as the reference's 1e-3 lets short runs collapse the features (docs/training.md);
     * pair crops inside the head, as a crop anywhere is a quarter empty background on average; 1,000
     * steps, about 7 minutes on two cores.
     */
    small: {
      crop: 32,
      batch: 1,
      patches: 32,
      heads: { width: 256, bottleneck: 64 },
      model: { base_width: 8 },
      weights: { variance: [0, 0, 0, 0, 0, 0, 1, 1, 1], covariance: [0, 0, 0, 0, 0, 0, 0.04, 0.04, 0.04] },
      crops_inside_head: true,
      steps: 1000,
      constant_steps: 333,
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
     * supervised updates, so an Lcs update comes every third step, and 1,680 steps fill about 13
     * minutes on two cores. Loads only the encoder's first three levels: after a short pretraining the
     * decoder's features are collapsed and the deepest level's narrowed.
     */
    small: {
      crop: 32,
      batch: 2,
      model: { base_width: 8 },
      steps: 1680,
      constant_steps: 560,
      validate_every: 120,
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
      pretrained_levels: 3,
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
