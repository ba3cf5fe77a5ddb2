import { join } from 'node:path';

/** One longiseg command line of the demo, run with its own --seed. */
export interface DemoCommand {
  args: string[];
  seed: number;
}

/** One step of the demo: command lines that may run side by side (the finetunes of every arm and seed). */
export interface DemoStage {
  name: string;
  commands: DemoCommand[];
}

export interface DemoSize {
  subjects: number;
  sessions: string;
  shape: string;
  voxelMm: number;
  pretrainSteps: number;
  finetuneSteps: number;
  /** Finetuning seeds per arm: the comparison is tested against the spread over them. */
  seeds: number;
  /** The split, fixed so that every seed finetunes and tests on the same subjects (ids without sub-). */
  validation: string[];
  test: string[];
}

/** Sized for a 2-core machine: under 15 minutes, and under 5 with --quick (docs/getting-started.md has the timings). */
export const DEMO_SIZES: Record<'full' | 'quick', DemoSize> = {
  full: {
    subjects: 8,
    sessions: '2-3',
    shape: '48,64,48',
    voxelMm: 3,
    pretrainSteps: 100,
    finetuneSteps: 80,
    seeds: 5,
    validation: ['06'],
    test: ['07', '08'],
  },
  quick: {
    subjects: 5,
    sessions: '2',
    shape: '48,64,48',
    voxelMm: 3,
    pretrainSteps: 25,
    finetuneSteps: 60,
    seeds: 1,
    validation: ['04'],
    test: ['05'],
  },
};

export const DEMO_METHODS = [
  { key: 'random', title: 'RandInitUnet.3D w/ Lcs' },
  { key: 'pretrained', title: 'Ours w/ Lcs' },
] as const;

export type DemoMethod = (typeof DEMO_METHODS)[number]['key'];

/** The finetuning seeds: the demo's --seed, then the next ones. */
export function demoSeeds(size: DemoSize, seed: number): number[] {
  return Array.from({ length: size.seeds }, (_, k) => seed + k);
}

/** The folder of one arm's run of a stage (finetune, predict, evaluate) with one seed. */
export function runFolder(out: string, stage: string, method: DemoMethod, seed: number): string {
  return join(out, `${stage}-${method}-seed${seed}`);
}

/**
 * The whole chain on a synthetic infant study: synth → preprocess (affine: B-spline registration of
 * every session would take most of the budget) → pretrain → one-shot finetune of sub-01 from random
 * init and from the pretrained checkpoint, both with Lcs, once per seed → predict on the test
 * subjects → evaluate.
 */
export function demoPlan(out: string, size: DemoSize, seed: number): DemoStage[] {
  const study = join(out, 'study');
  const registered = join(out, 'registered');
  const configs = (kind: string) => join(out, `${kind}.yaml`);
  const train = (kind: 'pretrain' | 'finetune', run: string, extra: string[] = []) => [
    kind,
    '--config',
    configs(kind),
    '--data',
    registered,
    '--out',
    run,
    ...extra,
  ];
  // seed by seed, both arms of a seed next to each other
  const runs = demoSeeds(size, seed).flatMap((s) => DEMO_METHODS.map((m) => ({ method: m.key, seed: s })));
  return [
    {
      name: 'synth',
      commands: [
        {
          args: [
            'synth',
            '--out',
            study,
            '--subjects',
            String(size.subjects),
            '--sessions',
            size.sessions,
            '--cohort',
            'infant',
            '--labels',
            'tissue',
            '--shape',
            size.shape,
            '--voxel-mm',
            String(size.voxelMm),
          ],
          seed,
        },
      ],
    },
    {
      name: 'preprocess',
      // two shards side by side: elastix-wasm and the elastix command line here use one thread each
      commands: [0, 1].map((shard) => ({
        args: [
          'preprocess',
          '--bids',
          join(study, 'raw'),
          '--out',
          registered,
          '--labels',
          'derivatives/labels',
          '--no-deformable',
          '--shard',
          `${shard}/2`,
          '--threads',
          '1',
        ],
        seed,
      })),
    },
    { name: 'pretrain', commands: [{ args: train('pretrain', join(out, 'pretrain')), seed }] },
    {
      name: 'finetune',
      // one-shot: sub-01, the first training subject, is the labelled one
      commands: runs.map((run) => ({
        args: train('finetune', runFolder(out, 'finetune', run.method, run.seed), [
          '--labeled',
          'sub-01',
          '--threads',
          '1',
          ...(run.method === 'pretrained' ? ['--pretrained', join(out, 'pretrain', 'best.safetensors')] : []),
        ]),
        seed: run.seed,
      })),
    },
    {
      name: 'predict',
      commands: runs.map((run) => ({
        args: [
          'predict',
          '--model',
          join(runFolder(out, 'finetune', run.method, run.seed), 'best.safetensors'),
          '--input',
          ...size.test.map((s) => join(registered, `sub-${s}`)),
          '--out',
          runFolder(out, 'predict', run.method, run.seed),
          '--threads',
          '1',
          '--continue',
        ],
        seed: run.seed,
      })),
    },
    {
      name: 'evaluate',
      commands: runs.map((run) => ({
        args: [
          'evaluate',
          '--pred',
          runFolder(out, 'predict', run.method, run.seed),
          '--ref',
          join(registered, 'derivatives', 'labels'),
          '--longitudinal',
          '--allow-missing',
          '--out',
          runFolder(out, 'evaluate', run.method, run.seed),
          '--threads',
          '1',
        ],
        seed: run.seed,
      })),
    },
  ];
}

/** The training configs: the small presets with the demo's step budget and split. */
export function demoConfigs(size: DemoSize): Record<'pretrain' | 'finetune', string> {
  const split = `split: { validation_subjects: [${size.validation.map((s) => `'${s}'`).join(', ')}], test_subjects: [${size.test.map((s) => `'${s}'`).join(', ')}] }\n`;
  const config = (steps: number) =>
    `preset: small\nsteps: ${steps}\nconstant_steps: ${Math.round(steps / 2)}\nvalidate_every: ${Math.max(5, Math.round(steps / 4))}\n${split}`;
  // the tissue classes have no left and right sides to swap; their few steps leave time for an Lcs
  // update at every step, as the reference does (the preset spaces them out for small structures)
  return {
    pretrain: config(size.pretrainSteps),
    finetune: `${config(size.finetuneSteps)}augmentation: { flip: { swap_sides: false } }\nlcs: { every: 1 }\n`,
  };
}
