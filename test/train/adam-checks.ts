import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { Adam, REFERENCE_ADAM } from '../../src/train/adam.js';
import { fixture } from '../helpers.js';

interface AdamFixture {
  shape: [number, number];
  weights: number[];
  gradients: number[][];
  after: number[][];
}

/**
 * Four Adam steps with the reference settings on the current back end, gradients of very different
 * scales, against torch.optim.Adam (fixture from test/reference/make_optim_fixtures.py): to 1e-6.
 */
export async function adamMatchesTorch(): Promise<void> {
  const reference = JSON.parse(readFileSync(fixture('optim', 'adam.json'), 'utf8')) as AdamFixture;
  const variable = tf.variable(tf.tensor2d(reference.weights, reference.shape));
  const optimiser = new Adam([variable], REFERENCE_ADAM);
  const moved: number[] = [];
  for (const [step, gradient] of reference.gradients.entries()) {
    const before = Array.from(await variable.data());
    await optimiser.apply({ [variable.name]: tf.tensor2d(gradient, reference.shape) });
    const got = await variable.data();
    const worst = Math.max(
      ...reference.after[step].map((want, i) => Math.abs(got[i] - want) / Math.max(1, Math.abs(want))),
    );
    expect(worst).toBeLessThan(1e-6);
    moved.push(Math.max(...before.map((value, i) => Math.abs(got[i] - value))));
  }
  // every step moved the weights by the order of lr (2e-4), whatever the gradient's scale, zero included
  for (const step of moved) expect(step).toBeGreaterThan(5e-5);
  variable.dispose();
}
