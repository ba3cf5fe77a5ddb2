/**
 * predict bench: `longiseg predict` as a user runs it (file reading and writing included) on the wasm
 * back end, with the full-size network (ngf 16, 33 classes), for a 96×112×96 and a 182×218×182
 * volume; window size, worker threads and --tta compared in one run. BENCH_PART=small|large|all.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/engine/backend.js';
import { writeNifti } from '../src/io/nifti.js';
import { createVolume } from '../src/io/volume.js';
import { saveModel } from '../src/model/model-file.js';
import { UNet } from '../src/model/unet.js';
import { Random } from '../src/runtime/random.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = join(root, 'bench', 'out', 'predict');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await initBackend('wasm');
const info = {
  unet: { inputChannels: 1, outputClasses: 33, baseWidth: 16, depth: 4 },
  modalities: ['T1w'],
  normalisation: { kind: 'min-percentile' as const, upperPercentile: 99.99 },
};
const model = join(out, 'model.safetensors');
await saveModel(model, { unet: new UNet(info.unet, new Random(1)), info });

async function image(name: string, shape: [number, number, number]): Promise<string> {
  const random = new Random(2);
  const data = Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, () => random.uniform(0, 100));
  const file = join(out, `${name}.nii.gz`);
  await writeNifti(
    file,
    createVolume(data, shape, [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ]),
  );
  return file;
}

function predict(input: string, flags: string[]): number {
  const target = join(out, `run-${Math.random().toString(36).slice(2)}`);
  const start = performance.now();
  const result = spawnSync(
    process.execPath,
    [
      join(root, 'bin', 'longiseg'),
      'predict',
      '--model',
      model,
      '--input',
      input,
      '--out',
      target,
      '--backend',
      'wasm',
      '--quiet',
      ...flags,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`predict ${flags.join(' ')} failed: ${result.stderr}`);
  return (performance.now() - start) / 1000;
}

const cores = availableParallelism();
const part = process.env.BENCH_PART ?? 'all';
const report = (label: string, seconds: number, baseline?: number) =>
  console.log(
    `${label.padEnd(58)} ${seconds.toFixed(1).padStart(7)} s  ${(60 / seconds).toFixed(2).padStart(6)} per minute${baseline ? `  (${(baseline / seconds).toFixed(2)}× the first line)` : ''}`,
  );

console.log(`predict bench, wasm back end, U-Net ngf 16 with 33 classes, ${cores} CPUs`);
if (part === 'small' || part === 'all') {
  const small = await image('small', [96, 112, 96]);
  const onePatch64 = predict(small, ['--patch', '64', '--workers', '1']);
  report('96×112×96, patch 64 (27 windows), 1 worker', onePatch64);
  report(
    `96×112×96, patch 64, ${cores} workers`,
    predict(small, ['--patch', '64', '--workers', String(cores)]),
    onePatch64,
  );
  report('96×112×96, default patch (one 96×112×96 window)', predict(small, []), onePatch64);
  report('96×112×96, default patch, --tta (2 windows: left-right)', predict(small, ['--tta']), onePatch64);
}
if (part === 'large' || part === 'all') {
  const large = await image('large', [182, 218, 182]);
  report(`182×218×182, default patch 128 (12 windows), ${cores} workers`, predict(large, []));
  if (process.env.BENCH_FULL)
    report(`182×218×182, patch 64 (150 windows), ${cores} workers`, predict(large, ['--patch', '64']));
}
