import type { LongisegCommand } from './command.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { evaluateCommand } from './evaluate.js';
import { finetuneCommand } from './finetune.js';
import { predictCommand } from './predict.js';
import { preprocessCommand } from './preprocess.js';
import { pretrainCommand } from './pretrain.js';
import { slurmCommand } from './slurm.js';
import { synthCommand } from './synth.js';

/** Every subcommand; each new one joins this list. Options differ per command, hence `any`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: LongisegCommand<any>[] = [
  doctorCommand,
  demoCommand,
  synthCommand,
  preprocessCommand,
  pretrainCommand,
  finetuneCommand,
  predictCommand,
  evaluateCommand,
  slurmCommand,
];
