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

/**
 * Adam (PyTorch's update: m̂/(√v̂ + ε) with bias corrections). Its moments are variables on the
 * back end, beside the weights. On wasm the update is a SIMD kernel over the compute threads that
 * writes the moments in place (engine/wasm-kernels.ts), and the gradients' finiteness is checked
 * the same way; elsewhere (and with tfjs's stock kernels) both are tfjs ops, so that on a GPU
 * nothing but one flag per update leaves the device.
 */
export class Adam {
  private readonly first: tf.Variable[];
  private readonly second: tf.Variable[];
  private steps = 0;

  constructor(
    readonly variables: tf.Variable[],
    public options: AdamOptions = REFERENCE_ADAM,
  ) {
    const zeros = () => variables.map((v) => variableFrom(tf.zerosLike(v), false));
    [this.first, this.second] = [zeros(), zeros()];
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
    const kernel = stockKernelsInUse() ? undefined : adamKernel();
    if (!(await allGradientsFinite(kernel, present))) {
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
    for (const { variable, index, gradient } of present) {
      const [m, v] = [this.first[index], this.second[index]];
      if (kernel) {
        const updated = tensorFilled(variable.shape, (next) =>
          kernel.step(valuesOf(gradient), valuesOf(variable), next, valuesOf(m), valuesOf(v), constants),
        );
        variable.assign(updated);
        updated.dispose();
      } else {
        deviceStep(gradient, variable, m, v, constants);
      }
      gradient.dispose();
    }
  }

  /** Moments and step count, for checkpoints that resume. */
  async state(): Promise<{ steps: number; first: Float32Array[]; second: Float32Array[] }> {
    const read = (moments: tf.Variable[]) => Promise.all(moments.map(readFloats));
    return { steps: this.steps, first: await read(this.first), second: await read(this.second) };
  }

  restore(state: { steps: number; first: Float32Array[]; second: Float32Array[] }): void {
    this.steps = state.steps;
    for (const [saved, moments] of [
      [state.first, this.first],
      [state.second, this.second],
    ] as const) {
      saved.forEach((values, i) => {
        const restored = tf.tensor(values, moments[i].shape);
        moments[i].assign(restored);
        restored.dispose();
      });
    }
  }

  /** Frees the moments (the variables stay the model's). */
  dispose(): void {
    tf.dispose([...this.first, ...this.second]);
  }
}

/** Whether every gradient is finite: a SIMD check on wasm, else one flag computed by tfjs and read back. */
async function allGradientsFinite(
  kernel: AdamKernel | undefined,
  present: { gradient: tf.Tensor }[],
): Promise<boolean> {
  const gradients = present.map((entry) => entry.gradient);
  if (kernel) return kernel.allFinite(gradients.map(valuesOf));
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
