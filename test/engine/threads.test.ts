import { describe, expect, test } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { wasmHeap } from '../../src/engine/heap.js';
import { KernelPool, splitRange } from '../../src/engine/kernel-pool.js';
import { instantiateKernels } from '../../src/engine/kernels-instance.js';
import { computeThreads, setComputeThreads } from '../../src/engine/wasm-kernels.js';
import { diceCrossEntropy } from '../../src/losses/segmentation.js';
import { UNet } from '../../src/model/unet.js';
import { ComputeThreadError } from '../../src/runtime/errors.js';
import { Random } from '../../src/runtime/random.js';
import { defaultThreads, threadsOption } from '../../src/runtime/threads.js';
import { runCli } from '../helpers.js';

/** Loss and every gradient of one training step of a small U-Net, as flat arrays. */
function trainingStep(): Float32Array[] {
  const unet = new UNet({ inputChannels: 1, outputClasses: 4, baseWidth: 8, depth: 3 }, new Random(1));
  const random = new Random(2);
  const [batch, size] = [2, 16];
  return tf.tidy(() => {
    const x = tf.tensor5d(
      Float32Array.from({ length: batch * size ** 3 }, () => random.next()),
      [batch, size, size, size, 1],
    );
    const y = tf.tensor4d(
      Int32Array.from({ length: batch * size ** 3 }, () => random.integer(0, 3)),
      [batch, size, size, size],
      'int32',
    );
    const variables = unet.trainableVariables();
    const { value, grads } = tf.variableGrads(
      () => diceCrossEntropy(unet.forward(x, { training: true }).logits, y) as tf.Scalar,
      variables,
    );
    return [value, ...variables.map((v) => grads[v.name])].map((t) => t.dataSync() as Float32Array);
  });
}

describe('compute threads on the shared wasm heap', () => {
  test('a training step gives the same loss and gradients, bit for bit, at 1 and 2 threads', async () => {
    await initBackend('wasm', () => {}, 2);
    expect(computeThreads()).toBe(2);
    const two = trainingStep();
    setComputeThreads(1);
    expect(computeThreads()).toBe(1);
    const one = trainingStep();
    setComputeThreads(3);
    const three = trainingStep();
    expect(two.length).toBeGreaterThan(10);
    for (const [i, values] of one.entries()) {
      expect(
        Buffer.from(two[i].buffer, two[i].byteOffset, two[i].byteLength).equals(
          Buffer.from(values.buffer, values.byteOffset, values.byteLength),
        ),
      ).toBe(true);
      expect(
        Buffer.from(three[i].buffer, three[i].byteOffset, three[i].byteLength).equals(
          Buffer.from(values.buffer, values.byteOffset, values.byteLength),
        ),
      ).toBe(true);
    }
    expect(one.some((g) => g.some((v) => v !== 0))).toBe(true);
    setComputeThreads(2);
  });

  test('a part that fails on a compute thread stops the job with a ComputeThreadError (exit 4)', async () => {
    await initBackend('wasm', () => {}, 2);
    const heap = wasmHeap()!;
    const pool = new KernelPool(heap.memory, 2, instantiateKernels(heap.memory, true));
    try {
      // the main thread's part is empty; the other part packs rows from far beyond the heap
      const beyond = 2 ** 31;
      let error: unknown;
      try {
        pool.run('packRows', [0, beyond, 4, 4, 64, 8], [0, 0, 64]);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ComputeThreadError);
      expect((error as ComputeThreadError).exitCode).toBe(4);
    } finally {
      pool.close();
    }
  });

  test('splitRange covers the range once, in parts starting at multiples of the grain', () => {
    expect(splitRange(10, 2)).toEqual([0, 5, 10]);
    expect(splitRange(10, 3, 4)).toEqual([0, 4, 8, 10]);
    expect(splitRange(3, 8, 4)).toEqual([0, 3]);
    expect(splitRange(0, 2)).toEqual([0, 0]);
  });
});

describe('--threads', () => {
  test('defaults to SLURM_CPUS_PER_TASK inside a job, else the CPUs of the machine', () => {
    expect(defaultThreads({ SLURM_CPUS_PER_TASK: '3' })).toEqual({ threads: 3, source: 'SLURM_CPUS_PER_TASK' });
    expect(defaultThreads({}).source).toBe('CPUs of this machine');
    expect(defaultThreads({}).threads).toBeGreaterThanOrEqual(1);
  });

  test.each([0, -2, 1025, 1.5, Number.NaN])('%p is refused', (value) => {
    expect(() => threadsOption(value)).toThrow(/--threads .*whole number of threads from 1 to 1024/);
  });

  test.each([
    ['pretrain', '--config', 'small', '--data', 'nowhere', '--out', 'nowhere'],
    ['predict', '--model', 'nowhere', '--input', 'nowhere', '--out', 'nowhere'],
    ['evaluate', '--pred', 'nowhere', '--ref', 'nowhere'],
    ['preprocess', '--bids', 'nowhere', '--out', 'nowhere'],
  ])('%s --threads 0 exits 2 before reading anything', (...args) => {
    const result = runCli([...args, '--threads', '0']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/threads/);
  });
});
