import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { useStockKernels } from '../src/engine/kernel-choice.js';
import type { Subject } from '../src/data/study.js';
import { writeNifti } from '../src/io/nifti.js';
import { createVolume } from '../src/io/volume.js';
import { saveModel } from '../src/model/model-file.js';
import { PretrainModel } from '../src/train/pretrain-model.js';
import { UNet } from '../src/model/unet.js';
import { Random } from '../src/runtime/random.js';
import { Adam } from '../src/train/adam.js';

/**
 * Seconds of the fastest of `repeats` runs (the least disturbed on a shared machine), after one
 * warm-up run (none when `warmUp` is false, for very slow baselines).
 */
export function time(run: () => void, repeats = 1, warmUp = true): number {
  if (warmUp) run();
  let fastest = Infinity;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    run();
    fastest = Math.min(fastest, (performance.now() - start) / 1000);
  }
  return fastest;
}

/** A pretraining model (U-Net ngf 16, nine heads `width` wide) on a pair of size³ crops; each call times one step. */
export function pretrainingSteps(size: number, stock: boolean, width = 2048): () => Promise<number> {
  const random = new Random(0);
  const model = new PretrainModel(
    { inputChannels: 1, outputClasses: 33, baseWidth: 16, depth: 4 },
    { width, bottleneck: width / 4 },
    undefined,
    random,
  );
  const optimizer = new Adam(model.trainableVariables());
  const input = tf.randomNormal([2, size, size, size, 1]) as tf.Tensor5D;
  return async () => {
    useStockKernels(stock);
    try {
      const start = performance.now();
      await model.step(input, input, optimizer, 128, random);
      return (performance.now() - start) / 1000;
    } finally {
      useStockKernels(false);
    }
  };
}

/** Three in-memory subjects of three sessions (64×80×64 unless said), random intensities and 18 random labels. */
export function randomSubjects(shape: [number, number, number] = [64, 80, 64]): Subject[] {
  const random = new Random(1);
  const voxels = shape[0] * shape[1] * shape[2];
  return Array.from({ length: 3 }, (_, s) => ({
    id: String(s + 1),
    sessions: Array.from({ length: 3 }, (_, t) => ({
      subject: String(s + 1),
      session: String(t + 1),
      shape,
      channels: [Float32Array.from({ length: voxels }, () => random.next())],
      label: Uint8Array.from({ length: voxels }, () => random.integer(0, 17)),
    })),
  }));
}

/** A 1 mm whole brain (181×217×181, random intensities) and a U-Net model (ngf 8, 18 classes) to predict it with, written into `folder`. */
export async function wholeBrainCase(folder: string): Promise<{ model: string; image: string }> {
  const info = {
    unet: { inputChannels: 1, outputClasses: 18, baseWidth: 8, depth: 4 },
    modalities: ['T1w'],
    normalisation: { kind: 'min-percentile' as const, upperPercentile: 99.99 },
  };
  const model = join(folder, 'model.safetensors');
  await saveModel(model, { unet: new UNet(info.unet, new Random(1)), info });
  const shape: [number, number, number] = [181, 217, 181];
  const random = new Random(2);
  const image = join(folder, 'brain.nii.gz');
  await writeNifti(
    image,
    createVolume(
      Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, () => random.uniform(0, 100)),
      shape,
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    ),
  );
  return { model, image };
}
