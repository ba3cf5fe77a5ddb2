import { wasmHeap } from './heap.js';
import type { HeapMemory } from './tfjs-internals.js';
import { heapIsShared, instantiateKernels } from './kernels-instance.js';
import { KernelPool, splitRange } from './kernel-pool.js';
import { PACK_ROWS, TASK_FUNCTIONS, type Kernel, type TaskName } from './parallel-tasks.js';

interface Loaded {
  memory: HeapMemory;
  /** Compute threads on this heap, when it is shared and more than one thread is asked for. */
  pool?: KernelPool;
  allocate(bytes: number): number;
  free(at: number): void;
  exports: Record<string, Kernel>;
  /** Where Adam's finiteness check marks a NaN or infinite gradient, allocated on first use. */
  nonFiniteFlag?: number;
}

let loaded: Loaded | undefined;
let threads = 1;

/**
 * Threads that longiseg's kernels use (--threads). They need tfjs's threaded build, whose heap is
 * shared; on the single-threaded build's heap the kernels run on one thread.
 */
export function setComputeThreads(count: number): void {
  threads = count;
  loaded?.pool?.close();
  if (loaded) loaded.pool = startPool(loaded.memory, loaded.exports);
}

/** The threads longiseg's kernels actually use: 1 without a shared heap. */
export function computeThreads(): number {
  return instance()?.pool?.threads ?? 1;
}

function startPool(memory: HeapMemory, exports: Record<string, Kernel>): KernelPool | undefined {
  return threads > 1 && heapIsShared(memory) ? new KernelPool(memory, threads, exports) : undefined;
}

/** kernels.wat instantiated on the current tfjs heap (the wasm back end only; a new back end, a new heap). */
function instance(): Loaded | undefined {
  const heap = wasmHeap();
  if (!heap) return undefined;
  if (loaded?.memory !== heap.memory) {
    loaded?.pool?.close();
    const exports = instantiateKernels(heap.memory, heapIsShared(heap.memory));
    loaded = { ...heap, exports, pool: startPool(heap.memory, exports) };
  }
  return loaded;
}

/** Runs the kernel tasks of engine/parallel-tasks.ts on the current back end's memory. */
export interface Executor {
  /** The address tasks take for a tensor's values (take the executor before the views). */
  address(values: Float32Array): number;
  /**
   * Runs `task` over [start, end), in parts starting at multiples of `grain` from start, over the
   * compute threads when there are and `work` (values touched) makes it worth it.
   */
  run(task: TaskName, args: number[], [start, end]: [number, number], grain: number, work: number): void;
}

/** On wasm, tasks run kernels.wat on heap byte offsets; elsewhere, JS loops on arrays, each its own address range. */
export function executor(): Executor {
  const kernels = instance();
  if (kernels) {
    return {
      address: (values) => values.byteOffset,
      run: (task, args, range, grain, work) => runTask(kernels, task, args, range, grain, work),
    };
  }
  const arrays: Float32Array[] = [];
  const js = jsKernels(arrays);
  return {
    address: (values) => (arrays.push(values) - 1) * ADDRESS_RANGE,
    run: (task, args, [start, end]) => TASK_FUNCTIONS[task](js, args, start, end),
  };
}

/** Addresses of the JS kernels: array index × this + byte offset in the array. */
const ADDRESS_RANGE = 2 ** 32;

/** copyBlocks, addBlocks and zeroBytes of kernels.wat as JS loops over registered arrays. */
function jsKernels(arrays: Float32Array[]): Record<string, Kernel> {
  const blocks =
    (add: boolean): Kernel =>
    (dst, dstStride, src, srcStride, bytes, count) => {
      const [target, source] = [arrays[Math.floor(dst / ADDRESS_RANGE)], arrays[Math.floor(src / ADDRESS_RANGE)]];
      let [at, from] = [(dst % ADDRESS_RANGE) / 4, (src % ADDRESS_RANGE) / 4];
      const length = bytes / 4;
      for (let run = 0; run < count; run++, at += dstStride / 4, from += srcStride / 4) {
        if (add) for (let i = 0; i < length; i++) target[at + i] += source[from + i];
        else for (let i = 0; i < length; i++) target[at + i] = source[from + i];
      }
    };
  const zeroBytes: Kernel = (dst, bytes) => {
    const at = (dst % ADDRESS_RANGE) / 4;
    arrays[Math.floor(dst / ADDRESS_RANGE)].fill(0, at, at + bytes / 4);
  };
  return { copyBlocks: blocks(false), addBlocks: blocks(true), zeroBytes };
}

/** The matrix product of kernels.wat: byte offsets into the heap and byte strides. */
export interface GemmKernel {
  /** B [k, n] at `b` into ceil(n/8) panels of [k][8] floats, 32·k bytes apart, the columns beyond n zero. */
  pack(panels: number, b: number, rowStride: number, columnStride: number, k: number, n: number): void;
  /**
   * C [m, n] (cRowStride bytes between rows) = A [m, k]·B, B as `pack` left it; A's rows in groups
   * of four, groupStride bytes apart, rowStride between the rows of a group.
   */
  multiply(
    a: number,
    groupStride: number,
    rowStride: number,
    columnStride: number,
    panels: number,
    c: number,
    cRowStride: number,
    m: number,
    n: number,
    k: number,
  ): void;
}

/**
 * The SIMD matrix product (wasm back end only), over the compute threads when there are: C by
 * rows, or by panels of 8 columns when it has more of those than groups of 4 rows.
 */
export function gemmKernel(): GemmKernel | undefined {
  const kernels = instance();
  if (!kernels) return undefined;
  return {
    pack: (panels, b, rowStride, columnStride, k, n) =>
      runTask(kernels, 'packRows', [panels, b, rowStride, columnStride, k, n], [0, k], PACK_ROWS, k * n),
    multiply(a, groupStride, rowStride, columnStride, panels, c, cRowStride, m, n, k) {
      if (m / 4 >= n / 8)
        runTask(
          kernels,
          'gemmRows',
          [a, groupStride, rowStride, columnStride, panels, c, cRowStride, n, k],
          [0, m],
          4,
          m * n * k,
        );
      else
        runTask(
          kernels,
          'gemmPanels',
          [a, groupStride, rowStride, columnStride, panels, c, cRowStride, m, n, k],
          [0, Math.ceil(n / 8)],
          1,
          m * n * k,
        );
    },
  };
}

/** Work (multiply-adds, or values packed) below which a kernel runs on one thread: a job costs tens of microseconds. */
const PARALLEL_WORK = 1 << 16;

/**
 * `task` over [start, end) of its range: on the calling thread, or split over the compute threads
 * (parts starting at multiples of `grain` from start) when there are and `work` makes it worth it.
 */
function runTask(
  { exports, pool, memory }: Loaded,
  task: TaskName,
  args: number[],
  [start, end]: [number, number],
  grain: number,
  work: number,
): void {
  if (!pool || work < PARALLEL_WORK) return TASK_FUNCTIONS[task](exports, args, start, end, memory.buffer);
  pool.run(
    task,
    args,
    splitRange(end - start, pool.threads, grain).map((at) => start + at),
  );
}

/** Calls kernels of kernels.wat with small JS arrays (per-channel parameters, sums) staged in the heap. */
export interface StagedKernels {
  /**
   * Copies each array into the heap (8-byte aligned), runs `call` with the kernels and the arrays'
   * byte offsets, then copies the arrays back (kernels may write them) and frees the copies. Take
   * the offsets of tensor views before: the allocation may move the heap's buffer.
   */
  call(
    arrays: (Float32Array | Float64Array | Int32Array)[],
    call: (kernels: Record<string, Kernel>, at: number[]) => void,
  ): void;
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
          arrays.forEach((a, i) =>
            new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(bytes().subarray(at[i], at[i] + a.byteLength)),
          );
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
   * One Adam step of a weight, over the compute threads: `g`, `w`, `m`, `v` and `out` are views of
   * tensors in the heap; m and v (tensors only the optimiser reads) are updated in place, `out` is
   * a new tensor's.
   */
  step(
    g: Float32Array,
    w: Float32Array,
    out: Float32Array,
    m: Float32Array,
    v: Float32Array,
    constants: AdamConstants,
  ): void;
  /** Whether every value of these views of the heap is finite, checked over the compute threads. */
  allFinite(values: Float32Array[]): boolean;
}

/**
 * The SIMD Adam update (wasm back end only). Its first use allocates the finiteness flag in the
 * heap (kept for the process), so get the kernel before taking any heap view.
 */
export function adamKernel(): AdamKernel | undefined {
  const kernels = instance();
  if (!kernels) return undefined;
  const flag = (kernels.nonFiniteFlag ??= kernels.allocate(16));
  return {
    step(g, w, out, m, v, { beta1, beta2, stepSize, rootScale, epsilon }) {
      const at = [g, m, v, w, out].map((view) => view.byteOffset);
      const constants = [beta1, 1 - beta1, beta2, 1 - beta2, stepSize, rootScale, epsilon];
      runTask(kernels, 'adamRange', [...at, ...constants], [0, g.length], 4, g.length);
    },
    allFinite(values) {
      // running tasks allocates nothing, so one view of the flag stays valid
      const seen = new Int32Array(kernels.memory.buffer, flag, 1);
      seen[0] = 0;
      for (const view of values)
        runTask(kernels, 'nonFiniteRange', [view.byteOffset, flag], [0, view.length], 4, view.length);
      return seen[0] === 0;
    },
  };
}
