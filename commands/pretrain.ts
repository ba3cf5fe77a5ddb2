import type { Argv } from 'yargs';
import { pretrainSchema, type PretrainConfig } from '../src/train/config.js';
import { PretrainTask } from '../src/train/pretrain-task.js';
import { pairableSubjects } from '../src/train/study-setup.js';
import type { LongisegCommand } from './command.js';
import type { GlobalArgs } from './context.js';
import { addTrainingOptions, resolveTrainingConfig, runTrainingCommand } from './train-common.js';

export const pretrainCommand: LongisegCommand<Record<string, unknown>> = {
  command: 'pretrain',
  describe: 'Self-supervised spatiotemporal pretraining of the U-Net on pairs of registered sessions',
  builder: (yargs: Argv<GlobalArgs>) =>
    addTrainingOptions(yargs, 'pretrain', pretrainSchema)
      .usage('$0 pretrain --config FILE|PRESET [--data DIR] [--out DIR] [--max-steps N] [--resume] [--time-limit 2h]')
      .example(
        '$0 pretrain --config small --data study/registered --out runs/pretrain',
        'a laptop-sized run on a synth study',
      )
      .example('$0 pretrain --config pretrain.yaml --resume --time-limit 23h', 'one SLURM job of a long run'),
  async run(argv, context) {
    const config = await resolveTrainingConfig('pretrain', pretrainSchema, argv, [
      'data',
      'out',
      'seed',
      'backend',
      'nan_to_num',
    ]);
    return runTrainingCommand<PretrainConfig>({
      kind: 'pretrain',
      config,
      argv,
      context,
      async build(study) {
        const pairs = pairableSubjects(study.train, config.data, (message) => context.logger.warn(message));
        if (study.validation.length === 0)
          context.logger.warn(
            'no validation subjects: validating on training pairs (best.safetensors then tracks the training loss)',
          );
        return new PretrainTask(config, study.classes, pairs, study.validation.length > 0 ? study.validation : pairs);
      },
      schema: pretrainSchema,
    });
  },
};
