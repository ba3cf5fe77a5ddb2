import { ADAM_WASM } from './adam-kernel.js';
import { wasmHeap, type HeapMemory } from './heap.js';

declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

/** Constants of one Adam step, as PyTorch folds them: stepSize = lr/(1−β1ᵗ), rootScale = 1/√(1−β2ᵗ). */
export interface AdamConstants {
  beta1: number;
  beta2: number;
  stepSize: number;
  rootScale: number;
  epsilon: number;
}

type StepKernel = (...args: number[]) => void;

/** Elements of m and v staged in the heap at a time (the moments live in JS memory). */
const CHUNK = 1 << 20;

export interface AdamKernel {
  /**
   * One Adam step of a weight: `g`, `w` and `out` are views of tensors in the heap (out a new one);
   * m and v, in JS memory, are updated in place.
   */
  step(g: Float32Array, w: Float32Array, out: Float32Array, m: Float32Array, v: Float32Array, constants: AdamConstants): void;
}

let loaded: { memory: HeapMemory; kernel: AdamKernel } | undefined;

/**
 * adam.wat instantiated on the current tfjs heap (wasm back end only). Loading allocates its
 * staging area (8 MB, kept for the process), so get the kernel before taking any heap view.
 */
export function adamKernel(): AdamKernel | undefined {
  const heap = wasmHeap();
  if (!heap) return undefined;
  if (loaded?.memory !== heap.memory) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(ADAM_WASM, 'base64')), { env: { memory: heap.memory } });
    loaded = { memory: heap.memory, kernel: stepper(heap.memory, instance.exports.step as StepKernel, heap.allocate(2 * CHUNK * 4)) };
  }
  return loaded!.kernel;
}

function stepper(memory: HeapMemory, step: StepKernel, staging: number): AdamKernel {
  const [stagedM, stagedV] = [staging, staging + 4 * CHUNK];
  return {
    step(g, w, out, m, v, { beta1, beta2, stepSize, rootScale, epsilon }) {
      for (let start = 0; start < g.length; start += CHUNK) {
        const count = Math.min(CHUNK, g.length - start);
        const heap = new Float32Array(memory.buffer);
        heap.set(m.subarray(start, start + count), stagedM / 4);
        heap.set(v.subarray(start, start + count), stagedV / 4);
        const at = (view: Float32Array) => view.byteOffset + 4 * start;
        step(at(g), stagedM, stagedV, at(w), at(out), count, beta1, 1 - beta1, beta2, 1 - beta2, stepSize, rootScale, epsilon);
        m.set(heap.subarray(stagedM / 4, stagedM / 4 + count), start);
        v.set(heap.subarray(stagedV / 4, stagedV / 4 + count), start);
      }
    },
  };
}
