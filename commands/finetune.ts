import type { Argv } from 'yargs';
import { sideSwap } from '../src/io/labels.js';
import { FLIP_AXES } from '../src/data/augment.js';
import { InputError } from '../src/runtime/errors.js';
import { finetuneSchema, type FinetuneConfig } from '../src/train/config.js';
import { FinetuneTask } from '../src/train/finetune-task.js';
import { parseLabelledEntry, selectLabelled } from '../src/train/labelled.js';
import { pairableSubjects } from '../src/train/study-setup.js';
import { commaList } from '../src/runtime/lists.js';
import type { LongisegCommand } from './command.js';
import type { GlobalArgs } from './context.js';
import { addTrainingOptions, resolveTrainingConfig, runTrainingCommand } from './train-common.js';

export const finetuneCommand: LongisegCommand<Record<string, unknown>> = {
  command: 'finetune',
  describe: 'Segmentation training from few labels (Dice+CE) with the longitudinal consistency loss on unlabeled pairs',
  builder: (yargs: Argv<GlobalArgs>) =>
    addTrainingOptions(yargs, 'finetune', finetuneSchema)
      .usage('$0 finetune --config FILE|PRESET [--pretrained CKPT] [--data DIR] [--out DIR] [--labeled sub-01,...]')
      .example(
        '$0 finetune --config small --data study/registered --out runs/oneshot --pretrained runs/pretrain/best.safetensors --labeled sub-01',
        'one-shot from a pretrained U-Net',
      ),
  async run(argv, context) {
    const labeled = typeof argv.labeled === 'string' && argv.labeled !== 'all' ? commaList(argv.labeled) : argv.labeled;
    const config = await resolveTrainingConfig('finetune', finetuneSchema, { ...argv, labeled }, [
      'data',
      'out',
      'seed',
      'backend',
      'nan_to_num',
      'pretrained',
      'labeled',
    ]);
    return runTrainingCommand<FinetuneConfig>({
      kind: 'finetune',
      config,
      argv,
      context,
      async build(study) {
        const entries = config.labeled === 'all' ? 'all' : config.labeled.map(parseLabelledEntry);
        const subjects = [...study.split.train, ...study.split.validation, ...study.split.test];
        const labelled = selectLabelled(study.train, entries, {
          train: study.split.train,
          all: subjects,
          labels: config.labels,
        });
        const sessions = labelled.flatMap((s) => s.sessions);
        if (sessions.every((x) => !x.label))
          throw new InputError(
            config.data,
            `has no label maps under derivatives/${config.labels}/ for ${labelled.map((s) => `sub-${s.id}`).join(', ')}`,
          );
        const unlabelled = sessions.filter((x) => !x.label).length;
        if (unlabelled > 0)
          context.logger.info(
            `${unlabelled} sessions of the labelled subjects are unlabelled in this run and are used only in pairs`,
          );
        for (const session of sessions) {
          if (session.label && !session.label.some((value) => value > 0))
            context.logger.warn(
              `${session.labelFile}: the label map holds no foreground class (background only); check that it is the right file`,
            );
        }
        const pairs =
          config.lcs.weight > 0
            ? pairableSubjects(study.train, config.data, (message) => context.logger.warn(message))
            : [];
        const labels = study.labelTable
          ? Object.fromEntries([...study.labelTable].map(([index, name]) => [String(index), name]))
          : undefined;
        const swap =
          config.augmentation.flip.swap_sides && study.labelTable
            ? sideSwap(study.labelTable, study.classes)
            : undefined;
        const sided = swap?.some((value, index) => value !== index) ?? false;
        const flipped = config.augmentation.enabled && config.augmentation.flip.p > 0;
        if (config.augmentation.flip.swap_sides && !sided)
          context.logger.warn(
            'augmentation.flip.swap_sides: no Left-/Right- label pairs in dseg.tsv; flipped crops keep their labels',
          );
        const info = {
          unet: {
            inputChannels: config.modalities.length,
            outputClasses: study.classes,
            baseWidth: config.model.base_width,
            depth: config.model.depth,
          },
          modalities: config.modalities,
          normalisation: { kind: 'min-percentile' as const, upperPercentile: config.upper_percentile },
          labels,
          trainingCrop: [config.crop, config.crop, config.crop],
          mirrorAxes: flipped ? [...FLIP_AXES] : [],
          mirroredLabels: sided && flipped ? [...swap!] : undefined,
        };
        const task = new FinetuneTask(config, info, labelled, pairs, study.validation, swap);
        if (config.pretrained && !argv.resume) {
          const { reinitialisedHead } = await task.loadPretrained(config.pretrained);
          const excluded =
            config.pretrained_exclude === 'decoder'
              ? 'the decoder'
              : config.pretrained_exclude.length > 0
                ? `layers ${config.pretrained_exclude.join(', ')}`
                : '';
          const levels = config.pretrained_levels;
          const notes = [
            levels !== 'all' && `encoder level${levels === 1 ? ' 0' : `s 0–${levels - 1}`} only, by pretrained_levels`,
            excluded && `${excluded} left at initialisation by pretrained_exclude`,
            reinitialisedHead && `output layer re-initialised, ${study.classes} classes`,
          ].filter(Boolean);
          context.logger.info(
            `loaded the U-Net of ${config.pretrained}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`,
          );
        }
        if (study.validation.length === 0)
          context.logger.warn(
            'no validation subjects: best.safetensors cannot be chosen by validation Dice and follows the last validation',
          );
        if (config.lcs.weight > 0 && config.lcs.warmup_steps >= config.steps)
          context.logger.warn(
            `lcs.warmup_steps (${config.lcs.warmup_steps}) covers all ${config.steps} steps: Lcs never runs`,
          );
        return task;
      },
      schema: finetuneSchema,
    });
  },
};
