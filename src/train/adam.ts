import * as tf from '@tensorflow/tfjs';
import { tensorFilled, valuesOf } from '../engine/heap.js';
import { stockKernelsInUse } from '../engine/kernel-choice.js';
import { variableFrom } from '../engine/ops.js';
import { readFloats, readValues } from '../engine/reads.js';
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

/** Adam's moments of every variable: host arrays, or variables on a GPU back end. */
interface Moments {
  first: Float32Array[] | tf.Variable[];
  second: Float32Array[] | tf.Variable[];
}

/**
 * Adam (PyTorch's update: m̂/(√v̂ + ε) with bias corrections) whose moments live where the weights'
 * values are read. On wasm and cpu they are JS memory: the wasm heap tops out at 4 GB and the
 * reference's nine 2048-wide heads hold 96 M parameters, so as tensors, weights, gradients and two
 * moments would take 1.5 GB of it; the update runs as a SIMD kernel (engine/wasm-kernels.ts), or the
 * JS loop below. On GPU back ends (TensorFlow, WebGPU) they are variables and the update is tfjs
 * ops, so that nothing but one flag per update leaves the device.
 */
export class Adam {
  private readonly moments: Moments;
  private steps = 0;

  constructor(
    readonly variables: tf.Variable[],
    public options: AdamOptions = REFERENCE_ADAM,
  ) {
    const zeros = () =>
      stockKernelsInUse()
        ? variables.map((v) => variableFrom(tf.zerosLike(v), false))
        : variables.map((v) => new Float32Array(v.size));
    this.moments = { first: zeros(), second: zeros() };
  }

  get stepCount(): number {
    return this.steps;
  }

  /**
   * Applies gradients (keyed by variable name, as tf.variableGrads returns them) and disposes them.
   * A NaN or infinite gradient changes nothing and throws a DivergedError.
   */
  async apply(gradients: tf.NamedTensorMap): Promise<void> {
    const present = this.variables.flatMap((variable, index) =>
      gradients[variable.name] ? [{ variable, index, gradient: gradients[variable.name] }] : [],
    );
    if (!(await allGradientsFinite(present.map((entry) => entry.gradient)))) {
      tf.dispose(Object.values(gradients));
      throw new DivergedError(
        `training diverged: a gradient holds NaN or infinite values at optimiser update ${this.steps + 1}`,
      );
    }
    this.steps += 1;
    const { learningRate, beta1, beta2, epsilon } = this.options;
    // PyTorch's update with the bias corrections folded into two constants
    const constants: AdamConstants = {
      beta1,
      beta2,
      epsilon,
      stepSize: learningRate / (1 - beta1 ** this.steps),
      rootScale: 1 / Math.sqrt(1 - beta2 ** this.steps),
    };
    const kernel = adamKernel();
    for (const { variable, index, gradient } of present) {
      const [m, v] = [this.moments.first[index], this.moments.second[index]];
      if (m instanceof Float32Array && v instanceof Float32Array) {
        const updated = tensorFilled(variable.shape, (next) =>
          (kernel ?? jsKernel).step(valuesOf(gradient), valuesOf(variable), next, m, v, constants),
        );
        variable.assign(updated);
        updated.dispose();
      } else {
        deviceStep(gradient, variable, m as tf.Variable, v as tf.Variable, constants);
      }
      gradient.dispose();
    }
  }

  /** Moments and step count, for checkpoints that resume. */
  async state(): Promise<{ steps: number; first: Float32Array[]; second: Float32Array[] }> {
    const read = (moments: Float32Array[] | tf.Variable[]) =>
      Promise.all(moments.map(async (m) => (m instanceof Float32Array ? m : readFloats(m))));
    return { steps: this.steps, first: await read(this.moments.first), second: await read(this.moments.second) };
  }

  restore(state: { steps: number; first: Float32Array[]; second: Float32Array[] }): void {
    this.steps = state.steps;
    for (const [saved, moments] of [
      [state.first, this.moments.first],
      [state.second, this.moments.second],
    ] as const) {
      saved.forEach((values, i) => {
        const target = moments[i];
        if (target instanceof Float32Array) target.set(values);
        else target.assign(tf.tensor(values, target.shape));
      });
    }
  }
}

/** Whether every gradient is finite: on the host a loop over the values, on a GPU one flag read back. */
async function allGradientsFinite(gradients: tf.Tensor[]): Promise<boolean> {
  if (!stockKernelsInUse()) return gradients.every((gradient) => allFinite(valuesOf(gradient)));
  if (gradients.length === 0) return true;
  const flag = tf.tidy(() => tf.stack(gradients.map((gradient) => tf.isFinite(gradient).all())).all());
  const finite = (await readValues(flag))[0] === 1;
  flag.dispose();
  return finite;
}

/** The update as tfjs ops, the moments in variables on the device. */
function deviceStep(
  gradient: tf.Tensor,
  weights: tf.Variable,
  m: tf.Variable,
  v: tf.Variable,
  { beta1, beta2, stepSize, rootScale, epsilon }: AdamConstants,
): void {
  tf.tidy(() => {
    m.assign(m.mul(beta1).add(gradient.mul(1 - beta1)));
    v.assign(v.mul(beta2).add(gradient.square().mul(1 - beta2)));
    weights.assign(weights.sub(m.mul(stepSize).div(v.sqrt().mul(rootScale).add(epsilon))));
  });
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/** The same update in JS (the cpu back end), in float64 rounded where PyTorch stores float32. */
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
