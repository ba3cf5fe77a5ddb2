import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.js';
import { HostAdam, REFERENCE_ADAM } from '../../src/train/adam.js';
import { fixture } from '../helpers.js';

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
});
