import * as tf from '@tensorflow/tfjs';
import { checkGpuDevice } from './webgpu.js';

/*
 * Reading tensor values on every back end. tfjs's WebGPU back end cannot read synchronously in
 * Node (its synchronous read needs OffscreenCanvas), so values are read with data() and awaited.
 */

/**
 * A tensor's values (tensor.data()); on every back end, but a failed GPU device makes it throw
 * GpuDeviceError (exit 4), whether it failed before the read or during it.
 */
export async function readValues(tensor: tf.Tensor): Promise<tf.TypedArray> {
  checkGpuDevice();
  try {
    return await tensor.data();
  } finally {
    checkGpuDevice();
  }
}

/** The values of a float32 tensor, as readValues reads them. */
export async function readFloats(tensor: tf.Tensor): Promise<Float32Array> {
  return (await readValues(tensor)) as Float32Array;
}

/**
 * Scalars recorded while a loss is computed (inside tf.variableGrads, where nothing can be awaited),
 * read once the update is done.
 */
export class ScalarReadings {
  private readonly pending: [string, tf.Tensor][] = [];

  record(name: string, value: tf.Tensor): void {
    // a copy (add, not clone: on wasm a clone shares the data, which the backward pass frees)
    this.pending.push([name, tf.keep(value.add(0))]);
  }

  async readInto(values: Map<string, number>): Promise<Map<string, number>> {
    for (const [name, tensor] of this.pending.splice(0)) {
      values.set(name, (await readValues(tensor))[0]);
      tensor.dispose();
    }
    return values;
  }
}
