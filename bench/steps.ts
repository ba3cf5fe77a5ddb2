import * as tf from '@tensorflow/tfjs';
import { useStockKernels } from '../src/engine/kernel-choice.js';
import type { Subject } from '../src/data/study.js';
import { PretrainModel } from '../src/model/pretrain-model.js';
import { Random } from '../src/runtime/random.js';
import { HostAdam } from '../src/train/adam.js';

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
  const model = new PretrainModel({ inputChannels: 1, outputClasses: 33, baseWidth: 16, depth: 4 }, { width, bottleneck: width / 4 }, undefined, random);
  const optimizer = new HostAdam(model.trainableVariables());
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
