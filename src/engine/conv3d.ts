import * as tf from '@tensorflow/tfjs';
import { customOp } from './ops.js';

/**
 * 3×3×3 convolution, stride 1, with reflection padding of one voxel (PyTorch padding_mode='reflect'),
 * no bias: x [N, D, H, W, Cin], w [3, 3, 3, Cin, Cout] → [N, D, H, W, Cout].
 *
 * On the wasm and cpu back ends tfjs's conv3d kernels run at 0.3 GFLOP/s and the wasm input gradient
 * is wrong (../shared/DESIGN.md), so this is a vol2col convolution: a column matrix with one row per
 * output voxel and the 27·Cin reflected neighbours as columns, times the filter as a [27·Cin, Cout]
 * matrix, in one plain matMul (no transpose flags, which are 20–50× slower on wasm). Gradients:
 * filter = colsᵀ·dy with colsᵀ built directly, input = the full correlation of dy with the flipped
 * kernel, folded back through the reflection. Depth slabs bound every column matrix.
 */
export function conv3dReflect(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  return customConv(x, w);
}

/** Largest column matrix (bytes) built at once. */
export const COLUMN_BYTES_CAP = 64 * 1024 * 1024;

const customConv = customOp<(x: tf.Tensor5D, w: tf.Tensor5D) => tf.Tensor5D>((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  const [n, d, h, wd, cin] = x.shape;
  const cout = w.shape[4]!;
  const value = forward(x.dataSync() as Float32Array, [n, d, h, wd, cin], w.reshape([27 * cin, cout]), cout);
  return {
    value: tf.tensor5d(value, [n, d, h, wd, cout]),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved;
      const dyData = dy.dataSync() as Float32Array;
      return [inputGradient(dyData, [n, d, h, wd, cout], ws, cin), filterGradient(xs.dataSync() as Float32Array, [n, d, h, wd, cin], dyData, cout)];
    },
  };
});

type Shape5 = [number, number, number, number, number];

/** Reflection of index i into [0, n): −1 → 1, n → n − 2 (a one-voxel axis reflects onto itself). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}

/** Depth slices per slab so that a [slab voxels, width] float32 matrix stays under the cap. */
function slabDepth(plane: number, width: number, depth: number): number {
  return Math.max(1, Math.min(depth, Math.floor(COLUMN_BYTES_CAP / (4 * plane * width))));
}

/** Columns of x for output depths [z0, z1) of batch item b: row = output voxel, col = (kd, kh, kw, c). */
function fillColumns(xs: Float32Array, shape: Shape5, b: number, z0: number, z1: number, cols: Float32Array): void {
  const [, d, h, w, c] = shape;
  const width = 27 * c;
  let row = 0;
  for (let z = z0; z < z1; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, row++) {
        let col = row * width;
        for (let kd = -1; kd <= 1; kd++) {
          const zz = reflect(z + kd, d);
          for (let kh = -1; kh <= 1; kh++) {
            const yy = reflect(y + kh, h);
            const base = (((b * d + zz) * h + yy) * w) * c;
            for (let kw = -1; kw <= 1; kw++) {
              const source = base + reflect(x + kw, w) * c;
              for (let ch = 0; ch < c; ch++) cols[col++] = xs[source + ch];
            }
          }
        }
      }
    }
  }
}

function forward(xs: Float32Array, shape: Shape5, filter: tf.Tensor, cout: number): Float32Array {
  const [n, d, h, w, cin] = shape;
  const plane = h * w;
  const width = 27 * cin;
  const out = new Float32Array(n * d * plane * cout);
  const step = slabDepth(plane, width, d);
  const cols = new Float32Array(step * plane * width);
  for (let b = 0; b < n; b++) {
    for (let z0 = 0; z0 < d; z0 += step) {
      const z1 = Math.min(d, z0 + step);
      const rows = (z1 - z0) * plane;
      fillColumns(xs, shape, b, z0, z1, cols);
      const product = tf.tidy(() => tf.matMul(tf.tensor2d(cols.subarray(0, rows * width), [rows, width]), filter as tf.Tensor2D));
      out.set(product.dataSync() as Float32Array, (b * d + z0) * plane * cout);
      product.dispose();
    }
  }
  filter.dispose();
  return out;
}

/** dW [3,3,3,Cin,Cout] = Σ_slabs colsᵀ · dy, with colsᵀ (col = output voxel) built directly. */
function filterGradient(xs: Float32Array, shape: Shape5, dy: Float32Array, cout: number): tf.Tensor {
  const [n, d, h, w, cin] = shape;
  const plane = h * w;
  const width = 27 * cin;
  const step = slabDepth(plane, width, d);
  const colsT = new Float32Array(width * step * plane);
  let total: tf.Tensor2D = tf.zeros([width, cout]);
  for (let b = 0; b < n; b++) {
    for (let z0 = 0; z0 < d; z0 += step) {
      const z1 = Math.min(d, z0 + step);
      const rows = (z1 - z0) * plane;
      let voxel = 0;
      for (let z = z0; z < z1; z++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++, voxel++) {
            let k = 0;
            for (let kd = -1; kd <= 1; kd++) {
              const zz = reflect(z + kd, d);
              for (let kh = -1; kh <= 1; kh++) {
                const base = (((b * d + zz) * h + reflect(y + kh, h)) * w) * cin;
                for (let kw = -1; kw <= 1; kw++, k++) {
                  const source = base + reflect(x + kw, w) * cin;
                  for (let ch = 0; ch < cin; ch++) colsT[(k * cin + ch) * rows + voxel] = xs[source + ch];
                }
              }
            }
          }
        }
      }
      const start = (b * d + z0) * plane * cout;
      const next = tf.tidy(() =>
        total.add(tf.matMul(tf.tensor2d(colsT.subarray(0, width * rows), [width, rows]), tf.tensor2d(dy.subarray(start, start + rows * cout), [rows, cout]))),
      ) as tf.Tensor2D;
      total.dispose();
      total = next;
    }
  }
  return total.reshape([3, 3, 3, cin, cout]);
}

/**
 * dx: the gradient w.r.t. the padded input is the full correlation of dy with the flipped kernel,
 * dxp[p] = Σ_k dy[p − k]·w[k] (dy zero outside), built as columns of dy times w as [(k, Cout), Cin];
 * each padded position then adds into the voxel it reflected.
 */
function inputGradient(dy: Float32Array, shape: Shape5, w: tf.Tensor, cin: number): tf.Tensor {
  const [n, d, h, wd, cout] = shape;
  const [pd, ph, pw] = [d + 2, h + 2, wd + 2];
  const width = 27 * cout;
  const filterData = w.dataSync() as Float32Array;
  // w[kd,kh,kw,c,o] → flipped rows ((kd,kh,kw), o), columns c
  const flipped = new Float32Array(width * cin);
  for (let k = 0; k < 27; k++) {
    for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) flipped[(k * cout + o) * cin + c] = filterData[(k * cin + c) * cout + o];
  }
  const flippedTensor = tf.tensor2d(flipped, [width, cin]);
  const dx = new Float32Array(n * d * h * wd * cin);
  const plane = ph * pw;
  const step = slabDepth(plane, width, pd);
  const cols = new Float32Array(step * plane * width);
  for (let b = 0; b < n; b++) {
    for (let z0 = 0; z0 < pd; z0 += step) {
      const z1 = Math.min(pd, z0 + step);
      const rows = (z1 - z0) * plane;
      cols.fill(0, 0, rows * width);
      let row = 0;
      for (let zp = z0; zp < z1; zp++) {
        for (let yp = 0; yp < ph; yp++) {
          for (let xp = 0; xp < pw; xp++, row++) {
            let col = row * width;
            for (let kd = 0; kd < 3; kd++) {
              const z = zp - kd;
              for (let kh = 0; kh < 3; kh++) {
                const y = yp - kh;
                for (let kw = 0; kw < 3; kw++, col += cout) {
                  const x = xp - kw;
                  if (z < 0 || z >= d || y < 0 || y >= h || x < 0 || x >= wd) continue;
                  const source = (((b * d + z) * h + y) * wd + x) * cout;
                  for (let o = 0; o < cout; o++) cols[col + o] = dy[source + o];
                }
              }
            }
          }
        }
      }
      const product = tf.tidy(() => tf.matMul(tf.tensor2d(cols.subarray(0, rows * width), [rows, width]), flippedTensor));
      const padded = product.dataSync() as Float32Array;
      product.dispose();
      row = 0;
      for (let zp = z0; zp < z1; zp++) {
        const z = reflect(zp - 1, d);
        for (let yp = 0; yp < ph; yp++) {
          const y = reflect(yp - 1, h);
          for (let xp = 0; xp < pw; xp++, row++) {
            const target = (((b * d + z) * h + y) * wd + reflect(xp - 1, wd)) * cin;
            const source = row * cin;
            for (let c = 0; c < cin; c++) dx[target + c] += padded[source + c];
          }
        }
      }
    }
  }
  flippedTensor.dispose();
  return tf.tensor5d(dx, [n, d, h, wd, cin]);
}

/** The same convolution from tfjs's own ops (reflection by slicing), for the native back end and as a test oracle. */
export function conv3dReflectStock(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  return tf.tidy(() => tf.conv3d(reflectPad(x), w, 1, 'valid'));
}

/** Reflection padding of one voxel on the three spatial axes, from slices and concatenation. */
export function reflectPad(x: tf.Tensor5D): tf.Tensor5D {
  let padded: tf.Tensor5D = x;
  for (const axis of [1, 2, 3]) {
    const size = padded.shape[axis];
    const begin = [0, 0, 0, 0, 0];
    const extent = [...padded.shape];
    extent[axis] = 1;
    const before = padded.slice(Object.assign([...begin], { [axis]: size > 1 ? 1 : 0 }), extent);
    const after = padded.slice(Object.assign([...begin], { [axis]: size > 1 ? size - 2 : 0 }), extent);
    padded = tf.concat([before, padded, after], axis) as tf.Tensor5D;
  }
  return padded;
}
