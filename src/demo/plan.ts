import { join } from 'node:path';

/** One step of the demo: longiseg command lines run side by side (the two finetunes). */
export interface DemoStage {
  name: string;
  /** Each a longiseg argument list, made when the stage starts (predict needs finetune's split). */
  commands: () => string[][];
}

export interface DemoSize {
  subjects: number;
  sessions: string;
  shape: string;
  voxelMm: number;
  pretrainSteps: number;
  finetuneSteps: number;
}

/** Sized for a 2-core machine: under 15 minutes, and under 5 with --quick (docs/getting-started.md has the timings). */
export const DEMO_SIZES: Record<'full' | 'quick', DemoSize> = {
  full: { subjects: 8, sessions: '2-3', shape: '48,64,48', voxelMm: 3, pretrainSteps: 100, finetuneSteps: 300 },
  quick: { subjects: 5, sessions: '2', shape: '48,64,48', voxelMm: 3, pretrainSteps: 25, finetuneSteps: 60 },
};

export const DEMO_METHODS = [
  { key: 'random', title: 'RandInitUnet.3D w/ Lcs' },
  { key: 'pretrained', title: 'Ours w/ Lcs' },
] as const;

/**
 * The whole chain on a synthetic infant study: synth → preprocess (affine: B-spline registration of
 * every session would take most of the budget) → pretrain → one-shot finetune from random init and
 * from the pretrained checkpoint, both with Lcs → predict on the test subjects → evaluate.
 */
/** The subject split the training runs use (pretrain's split.json; finetune draws the same one): sub-XX names. */
export interface DemoSplit {
  train: string[];
  test: string[];
}

export function demoPlan(out: string, size: DemoSize, split: () => DemoSplit): DemoStage[] {
  const study = join(out, 'study');
  const registered = join(out, 'registered');
  const configs = (kind: string) => join(out, `${kind}.yaml`);
  const train = (kind: 'pretrain' | 'finetune', run: string, extra: string[] = []) => [kind, '--config', configs(kind), '--data', registered, '--out', join(out, run), ...extra];
  return [
    {
      name: 'synth',
      commands: () => [['synth', '--out', study, '--subjects', String(size.subjects), '--sessions', size.sessions, '--cohort', 'infant', '--labels', 'tissue', '--shape', size.shape, '--voxel-mm', String(size.voxelMm)]],
    },
    {
      name: 'preprocess',
      // two shards side by side: elastix-wasm and the elastix command line here use one thread each
      commands: () => [0, 1].map((shard) => ['preprocess', '--bids', join(study, 'raw'), '--out', registered, '--labels', 'derivatives/labels', '--no-deformable', '--shard', `${shard}/2`, '--threads', '1']),
    },
    { name: 'pretrain', commands: () => [train('pretrain', 'pretrain')] },
    {
      name: 'finetune',
      // one-shot: the first training subject is the labelled one; the two runs side by side, a thread each
      commands: () => DEMO_METHODS.map((m) => train('finetune', `finetune-${m.key}`, ['--labeled', split().train[0], '--threads', '1', ...(m.key === 'pretrained' ? ['--pretrained', join(out, 'pretrain', 'best.safetensors')] : [])])),
    },
    {
      name: 'predict',
      commands: () => DEMO_METHODS.map((m) => ['predict', '--model', join(out, `finetune-${m.key}`, 'best.safetensors'), '--input', ...split().test.map((s) => join(registered, s)), '--out', join(out, `predict-${m.key}`), '--threads', '1', '--continue']),
    },
    {
      name: 'evaluate',
      commands: () => DEMO_METHODS.map((m) => ['evaluate', '--pred', join(out, `predict-${m.key}`), '--ref', join(registered, 'derivatives', 'labels'), '--longitudinal', '--allow-missing', '--out', join(out, `evaluate-${m.key}`), '--threads', '1']),
    },
  ];
}

/** The training configs: the small presets with the demo's step budget. */
export function demoConfigs(size: DemoSize): Record<'pretrain' | 'finetune', string> {
  const config = (steps: number) => `preset: small\nsteps: ${steps}\nconstant_steps: ${Math.round(steps / 2)}\nvalidate_every: ${Math.max(5, Math.round(steps / 4))}\n`;
  return { pretrain: config(size.pretrainSteps), finetune: config(size.finetuneSteps) };
}
