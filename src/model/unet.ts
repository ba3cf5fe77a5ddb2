import * as tf from '@tensorflow/tfjs';
import { conv3dSame } from '../engine/conv.js';
import { batchNormRelu, type BatchNormState } from '../engine/batch-norm.js';
import { concatChannels, maxPool2, upsampleNearest2, variableFrom } from '../engine/ops.js';
import { Random } from '../runtime/random.js';
import { unetModules, type Module, type UNetConfig } from './unet-layout.js';

export interface ForwardResult {
  logits: tf.Tensor5D;
  /** Conv outputs (before BatchNorm) of the requested layer ids. */
  features: Map<number, tf.Tensor5D>;
}

/** Kaiming normal (fan-in, a = 0) for convs: N(0, 2 / (27·Cin)); BatchNorm γ ~ N(1, 0.02), β = 0. */
export class UNet {
  readonly modules: Module[];
  readonly weights = new Map<number, tf.Variable>();
  readonly norms = new Map<number, BatchNormState>();

  constructor(
    readonly config: UNetConfig,
    random: Random,
  ) {
    this.modules = unetModules(config);
    this.modules.forEach((module, index) => {
      const seed = random.uint32();
      if (module.kind === 'conv') {
        const std = Math.sqrt(2 / (27 * module.inChannels));
        this.weights.set(
          index,
          variableFrom(
            tf.randomNormal([3, 3, 3, module.inChannels, module.outChannels], 0, std, 'float32', seed),
            true,
          ),
        );
      } else if (module.kind === 'bn') {
        this.norms.set(index, {
          gamma: variableFrom(tf.randomNormal([module.channels], 1, 0.02, 'float32', seed), true),
          beta: variableFrom(tf.zeros([module.channels]), true),
          runningMean: variableFrom(tf.zeros([module.channels]), false),
          runningVar: variableFrom(tf.ones([module.channels]), false),
          batches: 0,
        });
      }
    });
  }

  /** Input spatial sizes must be multiples of 2^depth (the skips are concatenated after each upsampling). */
  checkShape(shape: number[]): void {
    const multiple = 2 ** this.config.depth;
    const spatial = shape.slice(1, 4);
    if (spatial.some((n) => n % multiple !== 0)) {
      throw new RangeError(
        `input shape ${spatial.join('×')} is not divisible by ${multiple}: the U-Net pools ${this.config.depth} times`,
      );
    }
  }

  forward(x: tf.Tensor5D, options: { training: boolean; taps?: number[] }): ForwardResult {
    this.checkShape(x.shape);
    const taps = new Set(options.taps ?? []);
    const keep = new Set([
      ...taps,
      ...this.modules.flatMap((module) => (module.kind === 'up' ? [module.skipFrom] : [])),
    ]);
    const features = new Map<number, tf.Tensor5D>();
    const outputs: tf.Tensor5D[] = [];
    let current = x;
    const apply = (module: Module, index: number, input: tf.Tensor5D): tf.Tensor5D => {
      switch (module.kind) {
        case 'conv':
          return conv3dSame(input, this.weights.get(index) as tf.Tensor5D);
        // every BatchNorm is followed by a ReLU, applied with it in one op (ops.ts)
        case 'bn':
          return batchNormRelu(input, this.norms.get(index)!, options.training);
        case 'relu':
          return input;
        case 'pool':
          return maxPool2(input);
        case 'up':
          return concatChannels(outputs[module.skipFrom], upsampleNearest2(input));
      }
    };
    this.modules.forEach((module, index) => {
      const input = current;
      current = options.training ? apply(module, index, input) : tf.tidy(() => apply(module, index, input));
      // without a gradient tape nothing needs an activation again unless it is a skip or a tap:
      // freeing it at once bounds inference memory by about two levels' activations
      if (!options.training && index > 0 && !keep.has(index - 1) && input !== current) input.dispose();
      outputs.push(current);
      if (taps.has(index)) features.set(index, current);
    });
    return { logits: current, features };
  }

  trainableVariables(): tf.Variable[] {
    return [...this.weights.values(), ...[...this.norms.values()].flatMap((n) => [n.gamma!, n.beta!])];
  }

  parameterCount(): number {
    return this.trainableVariables().reduce((sum, v) => sum + v.size, 0);
  }

  /** Channels of a layer's output (for sizing the heads of tapped layers). */
  channelsOf(index: number): number {
    const module = this.modules[index];
    if (module.kind !== 'conv')
      throw new RangeError(`layer ${index} is a ${module.kind}, not a convolution; only conv outputs can be tapped`);
    return module.outChannels;
  }
}
