import { wasmHeap, type HeapMemory } from './heap.js';
import { KERNELS_WASM } from './kernels-wasm.js';

declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

type Kernel = (...args: number[]) => void;

interface Loaded {
  memory: HeapMemory;
  allocate(bytes: number): number;
  free(at: number): void;
  exports: Record<string, Kernel>;
  /** The Adam stepper, made on first use (it holds a staging area in this heap). */
  adam?: AdamKernel;
}

let loaded: Loaded | undefined;

/** kernels.wat instantiated on the current tfjs heap (the wasm back end only; a new back end, a new heap). */
function instance(): Loaded | undefined {
  const heap = wasmHeap();
  if (!heap) return undefined;
  if (loaded?.memory !== heap.memory) {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64')), { env: { memory: heap.memory } });
    loaded = { ...heap, exports: exports as Record<string, Kernel> };
  }
  return loaded;
}

/**
 * Copies `count` runs of `length` floats from `source` to `target`, starting at the given indices
 * and advancing by the strides (all in floats).
 */
export type RunCopier = (target: Float32Array, at: number, stride: number, source: Float32Array, from: number, sourceStride: number, length: number, count: number) => void;

/** The SIMD copier when both arrays are views of the wasm heap (get it before taking the views); a JS loop otherwise. */
export function runCopier(): RunCopier {
  return blockKernel('copyBlocks') ?? copyRuns;
}

/** As runCopier, but adds the runs of `source` to those of `target`. */
export function runAdder(): RunCopier {
  return blockKernel('addBlocks') ?? addRuns;
}

function blockKernel(name: 'copyBlocks' | 'addBlocks'): RunCopier | undefined {
  const kernel = instance()?.exports[name];
  return (
    kernel &&
    ((target, at, stride, source, from, sourceStride, length, count) =>
      kernel(target.byteOffset + 4 * at, 4 * stride, source.byteOffset + 4 * from, 4 * sourceStride, 4 * length, count))
  );
}

function copyRuns(target: Float32Array, at: number, stride: number, source: Float32Array, from: number, sourceStride: number, length: number, count: number): void {
  for (let run = 0; run < count; run++, at += stride, from += sourceStride) {
    for (let i = 0; i < length; i++) target[at + i] = source[from + i];
  }
}

function addRuns(target: Float32Array, at: number, stride: number, source: Float32Array, from: number, sourceStride: number, length: number, count: number): void {
  for (let run = 0; run < count; run++, at += stride, from += sourceStride) {
    for (let i = 0; i < length; i++) target[at + i] += source[from + i];
  }
}

/** The matrix product of kernels.wat: byte offsets into the heap and byte strides. */
export interface GemmKernel {
  /** B [k, n] at `b` into ceil(n/8) panels of [k][8] floats, panelStride bytes apart, the columns beyond n zero. */
  pack(panels: number, panelStride: number, b: number, rowStride: number, columnStride: number, k: number, n: number): void;
  /**
   * C [m, n] (cRowStride bytes between rows) = A [m, k]·B, B as `pack` left it; A's rows in groups
   * of four, groupStride bytes apart, rowStride between the rows of a group.
   */
  multiply(a: number, groupStride: number, rowStride: number, columnStride: number, panels: number, c: number, cRowStride: number, m: number, n: number, k: number): void;
}

/** The SIMD matrix product (wasm back end only). */
export function gemmKernel(): GemmKernel | undefined {
  const kernels = instance();
  return kernels && { pack: kernels.exports.packPanels, multiply: kernels.exports.gemm };
}

/** Calls kernels of kernels.wat with small JS arrays (per-channel parameters, sums) staged in the heap. */
export interface StagedKernels {
  /**
   * Copies each array into the heap (8-byte aligned), runs `call` with the kernels and the arrays'
   * byte offsets, then copies the arrays back (kernels may write them) and frees the copies. Take
   * the offsets of tensor views before: the allocation may move the heap's buffer.
   */
  call(arrays: (Float32Array | Float64Array)[], call: (kernels: Record<string, Kernel>, at: number[]) => void): void;
}

/** The kernels with staged arguments (wasm back end only). */
export function stagedKernels(): StagedKernels | undefined {
  const kernels = instance();
  return (
    kernels && {
      call(arrays, call) {
        const offsets: number[] = [];
        let size = 0;
        for (const array of arrays) {
          offsets.push(size);
          size += Math.ceil(array.byteLength / 16) * 16;
        }
        const block = kernels.allocate(size);
        try {
          const at = offsets.map((offset) => block + offset);
          const bytes = () => new Uint8Array(kernels.memory.buffer);
          arrays.forEach((a, i) => bytes().set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at[i]));
          call(kernels.exports, at);
          arrays.forEach((a, i) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(bytes().subarray(at[i], at[i] + a.byteLength)));
        } finally {
          kernels.free(block);
        }
      },
    }
  );
}

/** Constants of one Adam step, as PyTorch folds them: stepSize = lr/(1−β1ᵗ), rootScale = 1/√(1−β2ᵗ). */
export interface AdamConstants {
  beta1: number;
  beta2: number;
  stepSize: number;
  rootScale: number;
  epsilon: number;
}

export interface AdamKernel {
  /**
   * One Adam step of a weight: `g`, `w` and `out` are views of tensors in the heap (out a new one);
   * m and v, in JS memory, are updated in place.
   */
  step(g: Float32Array, w: Float32Array, out: Float32Array, m: Float32Array, v: Float32Array, constants: AdamConstants): void;
}

/** Elements of m and v staged in the heap at a time (the moments live in JS memory). */
const CHUNK = 1 << 20;

/**
 * The SIMD Adam update (wasm back end only). Its first use allocates a staging area in the heap
 * (8 MB, kept for the process), so get the kernel before taking any heap view.
 */
export function adamKernel(): AdamKernel | undefined {
  const kernels = instance();
  if (!kernels) return undefined;
  return (kernels.adam ??= stepper(kernels.memory, kernels.exports.adam, kernels.allocate(2 * CHUNK * 4)));
}

function stepper(memory: HeapMemory, adam: Kernel, staging: number): AdamKernel {
  const [stagedM, stagedV] = [staging, staging + 4 * CHUNK];
  return {
    step(g, w, out, m, v, { beta1, beta2, stepSize, rootScale, epsilon }) {
      for (let start = 0; start < g.length; start += CHUNK) {
        const count = Math.min(CHUNK, g.length - start);
        const heap = new Float32Array(memory.buffer);
        heap.set(m.subarray(start, start + count), stagedM / 4);
        heap.set(v.subarray(start, start + count), stagedV / 4);
        const at = (view: Float32Array) => view.byteOffset + 4 * start;
        adam(at(g), stagedM, stagedV, at(w), at(out), count, beta1, 1 - beta1, beta2, 1 - beta2, stepSize, rootScale, epsilon);
        m.set(heap.subarray(stagedM / 4, stagedM / 4 + count), start);
        v.set(heap.subarray(stagedV / 4, stagedV / 4 + count), start);
      }
    },
  };
}
