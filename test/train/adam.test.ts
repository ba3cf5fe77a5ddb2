import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.js';
import { HostAdam, REFERENCE_ADAM } from '../../src/train/adam.js';
import { kernelsModule } from '../../scripts/wasm-kernels.js';
import { fixture, repoRoot } from '../helpers.js';

interface AdamFixture {
  shape: [number, number];
  weights: number[];
  gradients: number[][];
  after: number[][];
}

describe('HostAdam against torch.optim.Adam (fixture from test/reference/make_optim_fixtures.py)', () => {
  test.each(['wasm', 'cpu'] as const)('four steps with the reference settings on %s, gradients of very different scales, match to 1e-6', async (backend) => {
    await initBackend(backend);
    try {
      const reference = JSON.parse(readFileSync(fixture('optim', 'adam.json'), 'utf8')) as AdamFixture;
      const variable = tf.variable(tf.tensor2d(reference.weights, reference.shape));
      const optimiser = new HostAdam([variable], REFERENCE_ADAM);
      const moved: number[] = [];
      reference.gradients.forEach((gradient, step) => {
        const before = Array.from(variable.dataSync());
        optimiser.apply({ [variable.name]: tf.tensor2d(gradient, reference.shape) });
        const got = variable.dataSync();
        const worst = Math.max(...reference.after[step].map((want, i) => Math.abs(got[i] - want) / Math.max(1, Math.abs(want))));
        expect(worst).toBeLessThan(1e-6);
        moved.push(Math.max(...before.map((value, i) => Math.abs(got[i] - value))));
      });
      // every step moved the weights by the order of lr (2e-4), whatever the gradient's scale, zero included
      for (const step of moved) expect(step).toBeGreaterThan(5e-5);
      variable.dispose();
    } finally {
      await initBackend('wasm');
    }
  });

  test('the wasm SIMD kernel equals the JS update over more than one staging chunk (2^20 + 3 weights)', async () => {
    const size = (1 << 20) + 3;
    const random = (seed: number) => Float32Array.from({ length: size }, (_, i) => Math.sin(seed * 1e4 + i * 12.9898) * 43758.5453 % 1);
    const [start, gradients] = [random(1), [random(2), random(3).map((g) => g * 1e-3)]];
    const run = async (backend: 'wasm' | 'cpu') => {
      await initBackend(backend);
      const variable = tf.variable(tf.tensor1d(start));
      const optimiser = new HostAdam([variable], REFERENCE_ADAM);
      for (const gradient of gradients) optimiser.apply({ [variable.name]: tf.tensor1d(gradient) });
      const result = { weights: variable.dataSync() as Float32Array, moments: optimiser.state() };
      variable.dispose();
      return result;
    };
    try {
      const [simd, js] = [await run('wasm'), await run('cpu')];
      const worst = (a: Float32Array, b: Float32Array) => a.reduce((most, value, i) => Math.max(most, Math.abs(value - b[i]) / Math.max(1e-3, Math.abs(b[i]))), 0);
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
