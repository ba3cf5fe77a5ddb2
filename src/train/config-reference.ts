import { z } from 'zod';
import { finetuneSchema, PRESETS, pretrainSchema } from './config.js';

/** What each configuration key means, by dotted path; the reference page is generated from the schemas and this. */
export const CONFIG_MEANINGS: Record<string, string> = {
  seed: 'Seed of every random choice (split, crops, augmentation, initialisation).',
  backend:
    'tfjs back end: auto picks tfjs-node-gpu, then tfjs-node, then WebGPU on a hardware GPU, then WebAssembly; webgpu also takes a software adapter (tests).',
  preset: 'The preset the file starts from (paper, small); keys in the file override it.',
  data: 'A registered BIDS tree (preprocess output, synth registered/) or a TSV manifest (subject, session, image, label, age).',
  out: 'Run folder: config.yaml, split.json, train_log.tsv, latest.safetensors, best.safetensors.',
  labels: 'Name of the label derivative: derivatives/<labels>/.',
  modalities: 'BIDS suffixes, one input channel each, the first drives everything else.',
  classes: "Output classes; default: from the labels' dseg.tsv, else the reference's 33.",
  'model.base_width': 'Channels of the first U-Net level (ngf); doubled at each level down.',
  'model.depth': 'Down-sampling levels of the U-Net; image sizes must divide by 2^depth.',
  crop: 'Edge of the cubic random crop in voxels, shared by both sessions of a pair.',
  batch: 'Pairs (pretrain) or labelled crops (finetune) per step.',
  pairing: 'Pairs of sessions: any two distinct ones in either order (the code), or neighbours in time.',
  crops_inside_head:
    'Centre every pair crop (pretraining, Lcs) and every labelled crop not centred on a class on a voxel inside the head, never in the empty background; the code crops anywhere.',
  'split.train': 'Share of subjects for training (percent; subject-wise, seeded).',
  'split.validation': 'Share of subjects for validation.',
  'split.test': 'Share of subjects held out for testing.',
  'split.validation_subjects': 'Explicit validation subjects (sub-XX), instead of the shares.',
  'split.test_subjects': 'Explicit test subjects, instead of the shares.',
  'augmentation.enabled': 'All augmentations on or off; a pair gets the identical transform.',
  'augmentation.flip.p': 'Probability of a random left-right flip.',
  'augmentation.flip.swap_sides':
    'Exchange the labels of Left-X and Right-X structures (names in dseg.tsv) in flipped crops, so that a flipped left structure is labelled right; the code keeps the labels.',
  'augmentation.affine.p': 'Probability of a random affine (scale and rotation).',
  'augmentation.affine.scale': 'Largest relative scale change.',
  'augmentation.affine.degrees': 'Largest rotation about each axis, degrees.',
  'augmentation.blur.p': 'Probability of a Gaussian blur.',
  'augmentation.blur.sigma': 'Largest blur σ, voxels.',
  'augmentation.noise.p': 'Probability of additive Gaussian noise.',
  'augmentation.noise.std': 'Largest noise standard deviation (normalised intensities).',
  'augmentation.bias_field.p': 'Probability of a multiplicative polynomial bias field.',
  'augmentation.bias_field.coefficient': 'Largest magnitude of the polynomial coefficients.',
  'augmentation.bias_field.order': 'Order of the polynomial.',
  'augmentation.gamma.p': 'Probability of a gamma change of contrast.',
  'augmentation.gamma.log_gamma': 'log γ drawn from ±this.',
  'augmentation.motion.p': 'Probability of simulated k-space motion artefacts.',
  'augmentation.motion.degrees': 'Largest rotation of a simulated movement, degrees.',
  'augmentation.motion.translation': 'Largest translation of a simulated movement, mm.',
  'augmentation.motion.transforms': 'Movements per simulated scan.',
  'optimizer.lr': 'Adam learning rate (constant, then a linear decay that ends at 1/(decay steps + 1) of it).',
  'optimizer.beta1': 'Adam β1 (0.5 as the code).',
  'optimizer.beta2': 'Adam β2.',
  'optimizer.eps': 'Adam ε.',
  steps:
    'Training steps in all; with lcs.mode alternate a finetuning step is two optimiser updates, an Lcs one and a supervised one (the code counts so).',
  constant_steps:
    "Steps at the full learning rate before the linear decay (default: the code's share of steps, 21/221 in pretraining and 11/211 in finetuning).",
  validate_every: 'Steps between validations (which pick best.safetensors).',
  validation_volumes: 'Validation items per validation (the code: 26 in pretraining).',
  validation_crop: 'Validate on a centred crop of this size instead of whole volumes (faster on CPUs).',
  prefetch:
    'Steps whose batches a data worker thread prepares (crops, augmentation) while the current step computes; 0 draws them on the main thread between steps. The batches are the same either way.',
  save_every: 'Steps between saves of latest.safetensors (also saved on SIGTERM and at --time-limit).',
  nan_to_num: 'Replace NaN and infinite image voxels with 0 (and say how many) instead of refusing the image (exit 3).',
  upper_percentile: 'Intensity normalisation: (x − min) / (P − min) with P this percentile (the reference: 99.99).',
  taps: "U-Net layers whose features enter the similarity loss (the reference's nine).",
  'heads.width': 'Width of each projection head (the reference: 2048).',
  'heads.bottleneck': 'Bottleneck width of each prediction head.',
  patches: 'Positions M sampled per tapped layer for the patchwise similarity.',
  'weights.lambda_sim': 'Weight of the multi-scale patchwise similarity loss.',
  'weights.sim_weights': 'Per-tap weights of the similarity loss (one per entry of taps).',
  'weights.variance': 'Per-tap weights of the variance regulariser.',
  'weights.covariance': 'Per-tap weights of the covariance regulariser.',
  'weights.orthogonality': 'Weight of the orthogonality regulariser.',
  'weights.orthogonal_pair': 'The two tapped layers whose features the orthogonality regulariser decorrelates.',
  'weights.orthogonality_squared': "Square the cosine (the code) or not (the paper's Eq. 2).",
  'weights.reconstruction': 'Weight of the denoising reconstruction loss.',
  pretrained:
    'A pretraining checkpoint or longiseg model to start from (heads dropped); random initialisation when absent.',
  pretrained_head:
    'The pretrained output layer: reuse (the code; pretraining trained it through the reconstruction head) or reinitialise. A new number of classes always re-initialises it.',
  pretrained_exclude:
    'Layers that keep their initialisation instead of the pretrained values (the run without --pretrained starts from the same one): a list of layer ids (convolutions and BatchNorms), or decoder (every layer after the first upsampling, output layer included).',
  labeled:
    'Labelled training data: all, or a list of subjects (sub-01: every labelled session) and sessions (sub-01:ses-03: that session alone; the other sessions serve in pairs). One entry = one-shot.',
  oversample_foreground:
    'Share of labelled crops centred on a voxel of a foreground class drawn uniformly from those the session holds (nnU-Net: 0.33); 0 as the code, which crops anywhere.',
  selection:
    'Which validation picks best.safetensors: loss, the lowest Dice+CE (the code), or dice, the highest mean foreground Dice.',
  'lcs.weight': 'λ_cseg, weight of the longitudinal consistency loss; 0 turns it off.',
  'lcs.mode':
    'alternate: every step an Lcs update, then a supervised update (the code); sum: one update of the summed loss (the paper).',
  'lcs.soft_targets': "The paper's soft-vs-soft Dice instead of the code's soft-vs-detached-argmax.",
  'lcs.batch': 'Unlabelled pairs per Lcs step (default: batch).',
  'lcs.warmup_steps':
    "Steps at the start with the supervised update only: Lcs compares the network's own predictions of two sessions, which mean nothing before it has learned to segment. The code has a 1,000-iteration warm-up of this kind, turned off (0).",
  'lcs.every':
    'An Lcs update every this many steps after the warm-up; the steps between have the supervised update alone. 1 (every step) is the code; a larger value buys supervised updates where the budget is short.',
  'dice.smooth_nr': 'Dice numerator smoothing of the supervised loss.',
  'dice.smooth_dr': 'Dice denominator smoothing of the supervised loss.',
  'dice.exclude_background': 'Leave the background class out of the Dice term.',
};

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  items?: JsonSchema | JsonSchema[];
  prefixItems?: JsonSchema[];
  anyOf?: JsonSchema[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

function typeOf(schema: JsonSchema): string {
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' or ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (schema.prefixItems) return `[${schema.prefixItems.map(typeOf).join(', ')}]`;
  if (schema.type === 'array')
    return `list of ${schema.items && !Array.isArray(schema.items) ? typeOf(schema.items) : 'values'}`;
  const bounds: string[] = [];
  if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) bounds.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER) bounds.push(`≤ ${schema.maximum}`);
  if (schema.exclusiveMaximum !== undefined) bounds.push(`< ${schema.exclusiveMaximum}`);
  return `${String(schema.type)}${bounds.length > 0 ? ` (${bounds.join(', ')})` : ''}`;
}

interface ConfigKey {
  key: string;
  schema: JsonSchema;
  /** Listed in its object's `required` (no default). */
  required: boolean;
}

/** Every leaf key of a schema, dotted, with its JSON schema. */
export function configKeys(schema: z.ZodType): ConfigKey[] {
  const walk = (node: JsonSchema, prefix: string): ConfigKey[] =>
    Object.entries(node.properties ?? {}).flatMap(([key, child]) =>
      child.properties
        ? walk(child, `${prefix}${key}.`)
        : [{ key: `${prefix}${key}`, schema: child, required: node.required?.includes(key) ?? false }],
    );
  return walk(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema, '');
}

function table(schema: z.ZodType): string {
  const defaultOf = ({ schema: node, required }: ConfigKey) =>
    node.default !== undefined ? `\`${JSON.stringify(node.default)}\`` : required ? 'required' : '–';
  const rows = configKeys(schema).map(
    (entry) =>
      `| \`${entry.key}\` | ${typeOf(entry.schema)} | ${defaultOf(entry)} | ${CONFIG_MEANINGS[entry.key] ?? ''} |`,
  );
  return ['| key | type | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function presets(kind: 'pretrain' | 'finetune'): string {
  return Object.entries(PRESETS[kind])
    .map(([name, values]) => `- \`${name}\`: \`${JSON.stringify(values)}\``)
    .join('\n');
}

/** docs/config.md: every key of both training configurations, with type, default and meaning. */
export function configReference(): string {
  return `# Configuration reference

Generated from the schemas in \`src/train/config.ts\` by \`npm run docs:config\`; a test checks that
it is current. Config files are YAML or JSON with these snake_case keys; nested keys are sections
(\`optimizer.lr\` is \`lr:\` under \`optimizer:\`). A file may start from a preset (\`preset: small\`)
and override any key; \`--data\`, \`--out\`, \`--seed\` and \`--backend\` on the command line override
the file. Unknown keys and values of the wrong type are refused (exit 2) with the key named.

## \`longiseg pretrain\`

${table(pretrainSchema)}

Presets:

${presets('pretrain')}

## \`longiseg finetune\`

${table(finetuneSchema)}

Presets:

${presets('finetune')}
`;
}
