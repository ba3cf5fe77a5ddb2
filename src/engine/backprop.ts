import type * as tf from '@tensorflow/tfjs';
import { engineInternals, type EngineInternals, type TapeNode } from './tfjs-internals.js';

/*
 * tfjs keeps every gradient of the backward pass, and every tensor saved for it, until the whole
 * backward pass ends. For a 64³ pair that doubled the peak memory of a training step (2.3 GB at
 * 512-wide heads, of which 1.3 GB were gradients of activations no longer needed), so the
 * reference's 2048-wide heads did not fit the 4 GB wasm heap. tfjs walks the tape in reverse, and a
 * node's output gradients and saved tensors are used by that node alone: this frees them as soon as
 * the walk has moved on to the next node, as PyTorch's autograd does.
 */

/** The caller's dy of the running backward pass: the caller still owns it. */
let seed: tf.Tensor | undefined;

/** The node whose gradients were computed last: its tensors go once the walk reaches the next one. */
let finished: { dys: tf.Tensor[]; saved: tf.Tensor[]; passedOn: Set<tf.Tensor> } | undefined;

function releaseFinished(): void {
  if (!finished) return;
  // a gradient function may hand its dy on unchanged; that tensor now belongs to its input
  for (const tensor of [...finished.dys, ...finished.saved])
    if (tensor && tensor !== seed && !finished.passedOn.has(tensor)) tensor.dispose();
  finished = undefined;
}

function freeing(
  node: TapeNode,
  gradient: NonNullable<TapeNode['gradient']>,
  engine: EngineInternals,
): TapeNode['gradient'] {
  return (dys) => {
    // higher-order gradients read the tape again
    if (engine.state.gradientDepth > 0) return gradient(dys);
    releaseFinished();
    const thunks = gradient(dys);
    const passedOn = new Set<tf.Tensor>();
    finished = { dys, saved: node.saved ?? [], passedOn };
    return Object.fromEntries(
      Object.entries(thunks).map(([input, thunk]) => [
        input,
        () => {
          const dx = thunk();
          passedOn.add(dx);
          return dx;
        },
      ]),
    );
  };
}

/** Frees each tape node's gradients and saved tensors as soon as the backward walk has used them. */
export function freeGradientsEarly(): void {
  const engine = engineInternals();
  if ((engine.addTapeNode as { freeing?: boolean }).freeing) return;
  const record = engine.addTapeNode;
  const addTapeNode = function (this: EngineInternals, ...args: unknown[]) {
    record.apply(this, args);
    const node = this.state.activeTape?.at(-1);
    if (node?.gradient) node.gradient = freeing(node, node.gradient, this);
  };
  engine.addTapeNode = Object.assign(addTapeNode, { freeing: true });
  const gradients = engine.gradients;
  engine.gradients = function (this: EngineInternals, f, xs, dy, allowNoGradients) {
    seed = dy;
    try {
      return gradients.call(this, f, xs, dy, allowNoGradients);
    } finally {
      seed = undefined;
      finished = undefined;
    }
  };
}
