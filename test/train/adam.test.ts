import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.js';
import { computeThreads } from '../../src/engine/wasm-kernels.js';
import { DivergedError } from '../../src/runtime/errors.js';
import { Adam, REFERENCE_ADAM } from '../../src/train/adam.js';
import { kernelsModule } from '../../scripts/wasm-kernels.js';
import { repoRoot } from '../helpers.js';
import { adamMatchesTorch } from './adam-checks.js';

describe('Adam against torch.optim.Adam (fixture from test/reference/make_optim_fixtures.py)', () => {
  test.each(['wasm', 'cpu'] as const)(
    'four steps with the reference settings on %s, gradients of very different scales, match to 1e-6',
    async (backend) => {
      await initBackend(backend);
      try {
        await adamMatchesTorch();
      } finally {
        await initBackend('wasm');
      }
    },
  );

  test('on wasm the update is the same at 1 and 2 compute threads, bit for bit, and matches the cpu back end (2^20 + 3 weights)', async () => {
    const size = (1 << 20) + 3;
    const random = (seed: number) =>
      Float32Array.from({ length: size }, (_, i) => (Math.sin(seed * 1e4 + i * 12.9898) * 43758.5453) % 1);
    const [start, gradients] = [random(1), [random(2), random(3).map((g) => g * 1e-3)]];
    const run = async (backend: 'wasm' | 'cpu', threads = 1) => {
      await initBackend(backend, () => {}, threads);
      const variable = tf.variable(tf.tensor1d(start));
      const optimiser = new Adam([variable], REFERENCE_ADAM);
      for (const gradient of gradients) await optimiser.apply({ [variable.name]: tf.tensor1d(gradient) });
      const result = {
        weights: variable.dataSync() as Float32Array,
        moments: await optimiser.state(),
        threads: computeThreads(),
      };
      optimiser.dispose();
      variable.dispose();
      return result;
    };
    try {
      const [one, two, cpu] = [await run('wasm', 1), await run('wasm', 2), await run('cpu')];
      expect([one.threads, two.threads]).toEqual([1, 2]);
      const same = (a: Float32Array, b: Float32Array) =>
        Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      expect(same(one.weights, two.weights)).toBe(true);
      expect(same(one.moments.first[0], two.moments.first[0])).toBe(true);
      expect(same(one.moments.second[0], two.moments.second[0])).toBe(true);
      const worst = (a: Float32Array, b: Float32Array) =>
        a.reduce((most, value, i) => Math.max(most, Math.abs(value - b[i]) / Math.max(1e-3, Math.abs(b[i]))), 0);
      expect(worst(two.weights, cpu.weights)).toBeLessThan(1e-6);
      expect(worst(two.moments.first[0], cpu.moments.first[0])).toBeLessThan(1e-6);
      expect(worst(two.moments.second[0], cpu.moments.second[0])).toBeLessThan(1e-5);
      // the weights moved (by about lr), the last ones, in the second thread's part, too
      expect(Math.abs(two.weights[size - 1] - start[size - 1])).toBeGreaterThan(5e-5);
    } finally {
      await initBackend('wasm');
    }
  });

  test.each([
    ['wasm', 2, Number.NaN],
    ['wasm', 1, Number.POSITIVE_INFINITY],
    ['cpu', 1, Number.NEGATIVE_INFINITY],
  ] as const)(
    'on %s at %i thread(s), a gradient with %p as its last value throws DivergedError and changes nothing',
    async (backend, threads, bad) => {
      await initBackend(backend, () => {}, threads);
      try {
        const size = (1 << 18) + 1;
        const [a, b] = [tf.variable(tf.ones([size])), tf.variable(tf.ones([7]))];
        const optimiser = new Adam([a, b], REFERENCE_ADAM);
        await optimiser.apply({ [a.name]: tf.fill([size], 0.5), [b.name]: tf.fill([7], 0.5) });
        const before = { a: a.dataSync().slice(), state: await optimiser.state() };
        const gradient = new Float32Array(size).fill(0.5);
        gradient[size - 1] = bad;
        await expect(optimiser.apply({ [a.name]: tf.tensor1d(gradient), [b.name]: tf.fill([7], 0.5) })).rejects.toThrow(
          new DivergedError('training diverged: a gradient holds NaN or infinite values at optimiser update 2'),
        );
        expect(optimiser.stepCount).toBe(1);
        expect(Array.from(a.dataSync())).toEqual(Array.from(before.a));
        const after = await optimiser.state();
        expect(Array.from(after.first[0])).toEqual(Array.from(before.state.first[0]));
        expect(Array.from(after.second[1])).toEqual(Array.from(before.state.second[1]));
        // a finite update goes on from there
        await optimiser.apply({ [a.name]: tf.fill([size], 0.5), [b.name]: tf.fill([7], 0.5) });
        expect(optimiser.stepCount).toBe(2);
        expect(a.dataSync()[size - 1]).toBeLessThan(before.a[size - 1]);
        optimiser.dispose();
        tf.dispose([a, b]);
      } finally {
        await initBackend('wasm');
      }
    },
  );

  test('src/engine/kernels-wasm.ts is what WABT assembles from kernels.wat (npm run build:wasm rewrites it)', async () => {
    expect(readFileSync(`${repoRoot}src/engine/kernels-wasm.ts`, 'utf8')).toBe(await kernelsModule());
  });
});
