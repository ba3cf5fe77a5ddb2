import * as tf from '@tensorflow/tfjs';
import { tensorFilled, valuesOf } from './heap.js';
import { executor, gemmKernel, type GemmKernel } from './wasm-kernels.js';

/**
 * a·b with either operand transposed, as tf.matMul. On wasm it is kernels.wat's product: on these
 * machines 1.4–1.7× the speed of tfjs-wasm's XNNPACK matMul, which moreover packs every new weight
 * tensor again (each training step's) and is 20–50× slower with transpose flags.
 */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  const gemm = gemmKernel();
  if (!gemm) return tf.matMul(a, b, transposeA, transposeB);
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : a.shape;
  const [inner, n] = transposeB ? [b.shape[1], b.shape[0]] : b.shape;
  if (inner !== k) throw new Error(`matMul: inner dimensions of [${a.shape}] and [${b.shape}] differ`);
  const panels = packedColumns(gemm, b, transposeB, k, n);
  // a transposed A read in place would touch a new cache line per element: copy it into row groups
  const groups = transposeA ? rowGroups(a, m, k) : undefined;
  const product = tensorFilled<tf.Rank.R2>([m, n], (c) => {
    const [at, rowStride, columnStride] = groups
      ? [valuesOf(groups).byteOffset, 4, 16]
      : [valuesOf(a).byteOffset, 4 * k, 4];
    gemm.multiply(at, 16 * k, rowStride, columnStride, valuesOf(panels).byteOffset, c.byteOffset, 4 * n, m, n, k);
  });
  panels.dispose();
  groups?.dispose();
  return product;
}

/** B [k, n] (b or, transposed, bᵀ) as gemm's panels of 8 columns. */
function packedColumns(gemm: GemmKernel, b: tf.Tensor2D, transposed: boolean, k: number, n: number): tf.Tensor1D {
  const [rowStride, columnStride] = transposed ? [4, 4 * k] : [4 * n, 4];
  return tensorFilled([Math.ceil(n / 8) * 8 * k], (panels) =>
    gemm.pack(panels.byteOffset, valuesOf(b).byteOffset, rowStride, columnStride, k, n),
  );
}

/** The rows of Aᵀ (a [k, m] tensor) in groups of four, each [k][4] floats: what gemm reads in order. */
function rowGroups(transposed: tf.Tensor2D, m: number, k: number): tf.Tensor1D {
  const run = executor();
  return tensorFilled([Math.ceil(m / 4) * 4 * k], (groups) =>
    run.run('rowGroups', [run.address(groups), run.address(valuesOf(transposed)), m, k], [0, m], 4, m * k),
  );
}
