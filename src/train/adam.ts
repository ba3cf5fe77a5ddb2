import * as tf from '@tensorflow/tfjs';
import { tensorFilled, valuesOf } from '../engine/heap.js';
import { DivergedError } from '../runtime/errors.js';
import { adamKernel, type AdamConstants, type AdamKernel } from '../engine/wasm-kernels.js';

export interface AdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** The reference's optimiser settings: Adam, lr 2e-4, β1 0.5 (the code's default), β2 0.999, eps 1e-8. */
export const REFERENCE_ADAM: AdamOptions = { learningRate: 2e-4, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };

/**
 * Adam (PyTorch's update: m̂/(√v̂ + ε) with bias corrections) whose moments live in JS memory.
 * The wasm heap tops out at 4 GB and the reference's nine 2048-wide heads hold 96 M parameters:
 * as tensors, weights, gradients and two moments would take 1.5 GB of it. Here only the weights
 * (and, during a step, the gradients) are tensors; on wasm the update runs as a SIMD kernel
 * (engine/wasm-kernels.ts), elsewhere as the JS loop below.
 */
export class HostAdam {
  private readonly first: Float32Array[];
  private readonly second: Float32Array[];
  private steps = 0;

  constructor(
    readonly variables: tf.Variable[],
    public options: AdamOptions = REFERENCE_ADAM,
  ) {
    this.first = variables.map((v) => new Float32Array(v.size));
    this.second = variables.map((v) => new Float32Array(v.size));
  }

  get stepCount(): number {
    return this.steps;
  }

  /**
   * Applies gradients (keyed by variable name, as tf.variableGrads returns them) and disposes them.
   * A NaN or infinite gradient changes nothing and throws a DivergedError.
   */
  apply(gradients: tf.NamedTensorMap): void {
    const broken = this.variables.find((variable) => gradients[variable.name] && !allFinite(valuesOf(gradients[variable.name])));
    if (broken) {
      Object.values(gradients).forEach((gradient) => gradient.dispose());
      throw new DivergedError(`training diverged: a gradient holds NaN or infinite values at optimiser update ${this.steps + 1}`);
    }
    this.steps += 1;
    const { learningRate, beta1, beta2, epsilon } = this.options;
    // PyTorch's update with the bias corrections folded into two constants
    const constants: AdamConstants = { beta1, beta2, epsilon, stepSize: learningRate / (1 - beta1 ** this.steps), rootScale: 1 / Math.sqrt(1 - beta2 ** this.steps) };
    const kernel = adamKernel();
    this.variables.forEach((variable, index) => {
      const gradient = gradients[variable.name];
      if (!gradient) return;
      const [m, v] = [this.first[index], this.second[index]];
      const updated = tensorFilled(variable.shape, (next) => (kernel ?? jsKernel).step(valuesOf(gradient), valuesOf(variable), next, m, v, constants));
      gradient.dispose();
      variable.assign(updated);
      updated.dispose();
    });
  }

  /** Moments and step count, for checkpoints that resume. */
  state(): { steps: number; first: Float32Array[]; second: Float32Array[] } {
    return { steps: this.steps, first: this.first, second: this.second };
  }

  restore(state: { steps: number; first: Float32Array[]; second: Float32Array[] }): void {
    this.steps = state.steps;
    state.first.forEach((m, i) => this.first[i].set(m));
    state.second.forEach((v, i) => this.second[i].set(v));
  }
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/** The same update in JS (back ends other than wasm), in float64 rounded where PyTorch stores float32. */
const jsKernel: AdamKernel = {
  step(g, weights, next, m, v, { beta1, beta2, stepSize, rootScale, epsilon }) {
    for (let i = 0; i < g.length; i++) {
      // locals rounded as the stored float32 moments, without reading them back (a third faster)
      const gi = g[i];
      const mi = (m[i] = Math.fround(beta1 * m[i] + (1 - beta1) * gi));
      const vi = (v[i] = Math.fround(beta2 * v[i] + (1 - beta2) * gi * gi));
      next[i] = weights[i] - (stepSize * mi) / (Math.sqrt(vi) * rootScale + epsilon);
    }
  },
};
