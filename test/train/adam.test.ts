import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.js';
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

  test('the wasm SIMD kernel equals the JS update over more than one staging chunk (2^20 + 3 weights)', async () => {
    const size = (1 << 20) + 3;
    const random = (seed: number) =>
      Float32Array.from({ length: size }, (_, i) => (Math.sin(seed * 1e4 + i * 12.9898) * 43758.5453) % 1);
    const [start, gradients] = [random(1), [random(2), random(3).map((g) => g * 1e-3)]];
    const run = async (backend: 'wasm' | 'cpu') => {
      await initBackend(backend);
      const variable = tf.variable(tf.tensor1d(start));
      const optimiser = new Adam([variable], REFERENCE_ADAM);
      for (const gradient of gradients) await optimiser.apply({ [variable.name]: tf.tensor1d(gradient) });
      const result = { weights: variable.dataSync() as Float32Array, moments: await optimiser.state() };
      variable.dispose();
      return result;
    };
    try {
      const [simd, js] = [await run('wasm'), await run('cpu')];
      const worst = (a: Float32Array, b: Float32Array) =>
        a.reduce((most, value, i) => Math.max(most, Math.abs(value - b[i]) / Math.max(1e-3, Math.abs(b[i]))), 0);
      expect(worst(simd.weights, js.weights)).toBeLessThan(1e-6);
      expect(worst(simd.moments.first[0], js.moments.first[0])).toBeLessThan(1e-6);
      expect(worst(simd.moments.second[0], js.moments.second[0])).toBeLessThan(1e-5);
      // the weights moved (by about lr), the last ones past the chunk boundary too
      expect(Math.abs(simd.weights[size - 1] - start[size - 1])).toBeGreaterThan(5e-5);
    } finally {
      await initBackend('wasm');
    }
  });

  test('src/engine/kernels-wasm.ts is what WABT assembles from kernels.wat (npm run build:wasm rewrites it)', async () => {
    expect(readFileSync(`${repoRoot}src/engine/kernels-wasm.ts`, 'utf8')).toBe(await kernelsModule());
  });
});
