/**
 * train bench: pretraining and finetuning steps per second with the presets (wasm back end), on
 * in-memory subjects of 64×80×64 voxels with three sessions (augmentation included, as in a run).
 */
import { initBackend } from '../src/engine/backend.js';
import { finetuneSchema, pretrainSchema, PRESETS } from '../src/train/config.js';
import { FinetuneTask } from '../src/train/finetune-task.js';
import { PretrainTask } from '../src/train/pretrain-task.js';
import type { TrainingTask } from '../src/train/loop.js';
import { randomSubjects } from './steps.js';

await initBackend('wasm');
const subjects = randomSubjects();

async function stepsPerSecond(task: TrainingTask, steps: number): Promise<number> {
  await task.step(0, 2e-4); // warm-up: kernels compiled, heap grown
  const start = performance.now();
  for (let i = 1; i <= steps; i++) await task.step(i, 2e-4);
  const rate = steps / ((performance.now() - start) / 1000);
  await task.close();
  return rate;
}

const common = { data: 'in-memory', out: 'unused' };
console.log('training steps per second, wasm back end, one thread, 64×80×64 sessions, augmentation on');
for (const preset of ['small', 'paper']) {
  const config = pretrainSchema.parse({ ...PRESETS.pretrain[preset], ...common });
  const task = new PretrainTask(config, 18, subjects, subjects);
  console.log(
    `pretrain --config ${preset.padEnd(5)} (crop ${config.crop}, ngf ${config.model.base_width}, heads ${config.heads.width}, M ${config.patches}): ${(await stepsPerSecond(task, preset === 'paper' ? 3 : 10)).toFixed(3)} steps/s`,
  );
}
const config = finetuneSchema.parse({ ...PRESETS.finetune.small, ...common });
const info = {
  unet: { inputChannels: 1, outputClasses: 18, baseWidth: config.model.base_width, depth: 4 },
  modalities: ['T1w'],
  normalisation: { kind: 'min-percentile' as const, upperPercentile: 99.99 },
};
const finetune = new FinetuneTask(config, info, subjects, subjects, subjects);
console.log(
  `finetune --config small (crop ${config.crop}, batch ${config.batch}, Lcs steps alternating): ${(await stepsPerSecond(finetune, 10)).toFixed(3)} steps/s`,
);
