import * as tf from '@tensorflow/tfjs';
import { tensorFilled, valuesOf } from './heap.js';
import { matMul } from './matmul.js';
import { customOp } from './ops.js';
import { reflect } from './parallel-tasks.js';
import { executor, type Executor } from './wasm-kernels.js';

/**
 * 3×3×3 convolution, stride 1, with reflection padding of one voxel (PyTorch padding_mode='reflect'),
 * no bias: x [N, D, H, W, Cin], w [3, 3, 3, Cin, Cout] → [N, D, H, W, Cout].
 *
 * On the wasm and cpu back ends tfjs's conv3d kernels run at 0.3 GFLOP/s and the wasm input gradient
 * is wrong (bench/model.ts shows it), so this is a vol2col convolution in matrix products
 * (src/engine/matmul.ts). The column matrix holds, for every voxel, its 9 (kd, kh)
 * neighbours reflected in z and y (9·Cin columns, a third of full vol2col); one matMul with the
 * three kw filters side by side [9·Cin, 3·Cout] gives the three x-taps, which are summed with the
 * x shift and its reflection. Gradients decompose the same way: filter = (shifted dy)ᵀ·cols, input =
 * the full correlation of dy with the flipped kernel, folded back through the reflection. Depth
 * slabs bound every column matrix.
 */
export function conv3dReflect(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  return customConv(x, w);
}

/** Largest column matrix (bytes) built at once; the default keeps a slab well inside the wasm heap. */
let columnBytesCap = 64 * 1024 * 1024;

/** Sets the column matrix cap (bytes) and returns the previous one: smaller slabs, less memory, more matMuls. */
export function setColumnBytesCap(bytes: number): number {
  const previous = columnBytesCap;
  columnBytesCap = bytes;
  return previous;
}

const customConv = customOp<(x: tf.Tensor5D, w: tf.Tensor5D) => tf.Tensor5D>(
  (x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, w]);
    return {
      value: forward(x, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved;
        return [inputGradient(dy, ws), filterGradient(xs, dy)];
      },
    };
  },
);

type Shape5 = [number, number, number, number, number];

/** Depth slices per slab so that a [slab voxels, width] float32 matrix stays under the cap. */
function slabDepth(plane: number, width: number, depth: number): number {
  return Math.max(1, Math.min(depth, Math.floor(columnBytesCap / (4 * plane * width))));
}

/** Zeroes `values` (rows of `row` floats) over the compute threads. */
function zero(values: Float32Array, row: number, run: Executor): void {
  run.run('zeroRows', [run.address(values), 4 * row], [0, values.length / row], 1, values.length);
}

/** A tensor of zeros, zeroed over the compute threads. */
function zeros<R extends tf.Rank>(shape: number[], run: Executor): tf.Tensor<R> {
  return tensorFilled<R>(shape, (values) => zero(values, shape[shape.length - 1], run));
}

/** w [3,3,3,Cin,Cout] as [(kd,kh,c), (kw,o)]: the three kw filters side by side. */
function filterByKw(w: Float32Array, cin: number, cout: number, out: Float32Array): void {
  for (let kd = 0; kd < 3; kd++)
    for (let kh = 0; kh < 3; kh++)
      for (let kw = 0; kw < 3; kw++)
        for (let c = 0; c < cin; c++)
          for (let o = 0; o < cout; o++)
            out[((kd * 3 + kh) * cin + c) * 3 * cout + kw * cout + o] =
              w[(((kd * 3 + kh) * 3 + kw) * cin + c) * cout + o];
}

function forward(x: tf.Tensor, w: tf.Tensor): tf.Tensor5D {
  const shape = x.shape as Shape5;
  const [n, d, h, wd, cin] = shape;
  const cout = w.shape[4]!;
  const plane = h * wd;
  const width = 9 * cin;
  const step = slabDepth(plane, width, d);
  const run = executor();
  const filters = tensorFilled<tf.Rank.R2>([width, 3 * cout], (values) => filterByKw(valuesOf(w), cin, cout, values));
  const out = zeros<tf.Rank.R5>([n, d, h, wd, cout], run);
  for (let b = 0; b < n; b++) {
    for (let z0 = 0; z0 < d; z0 += step) {
      const z1 = Math.min(d, z0 + step);
      const rows = (z1 - z0) * plane;
      const columns = tensorFilled<tf.Rank.R2>([rows, width], (cols) =>
        run.run(
          'fillColumns',
          [run.address(valuesOf(x)), b, d, h, wd, cin, z0, run.address(cols)],
          [z0, z1],
          1,
          rows * width,
        ),
      );
      const product = matMul(columns, filters);
      columns.dispose();
      // y[x] = Σ_kw taps_kw[reflect(x + kw − 1)], line by line
      const result = run.address(valuesOf(out)) + 4 * (b * d + z0) * plane * cout;
      run.run('addTaps', [result, run.address(valuesOf(product)), wd, cout], [0, rows / wd], 1, 3 * rows * cout);
      product.dispose();
    }
  }
  filters.dispose();
  return out;
}

/**
 * dW: for each kw, the x-shifted dy (each voxel's gradient moved to the input column it read,
 * reflection included), transposed, times the columns: [rows, (kw, o)]ᵀ·[rows, (kd, kh, c)].
 */
function filterGradient(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  const shape = x.shape as Shape5;
  const [n, d, h, w, cin] = shape;
  const cout = dy.shape[4]!;
  const plane = h * w;
  const width = 9 * cin;
  const step = slabDepth(plane, width, d);
  const run = executor();
  const total = new Float64Array(3 * cout * width);
  for (let b = 0; b < n; b++) {
    for (let z0 = 0; z0 < d; z0 += step) {
      const z1 = Math.min(d, z0 + step);
      const rows = (z1 - z0) * plane;
      const shifted = tensorFilled<tf.Rank.R2>([rows, 3 * cout], (values) => {
        zero(values, 3 * cout, run);
        const gradient = run.address(valuesOf(dy)) + 4 * (b * d + z0) * plane * cout;
        run.run('shiftTaps', [run.address(values), gradient, w, cout], [0, rows / w], 1, 3 * rows * cout);
      });
      const columns = tensorFilled<tf.Rank.R2>([rows, width], (cols) =>
        run.run(
          'fillColumns',
          [run.address(valuesOf(x)), b, d, h, w, cin, z0, run.address(cols)],
          [z0, z1],
          1,
          rows * width,
        ),
      );
      const product = matMul(shifted, columns, true);
      shifted.dispose();
      columns.dispose();
      const values = valuesOf(product);
      for (let i = 0; i < values.length; i++) total[i] += values[i];
      product.dispose();
    }
  }
  return tensorFilled([3, 3, 3, cin, cout], (filter) => {
    for (let kd = 0; kd < 3; kd++)
      for (let kh = 0; kh < 3; kh++)
        for (let kw = 0; kw < 3; kw++)
          for (let c = 0; c < cin; c++)
            for (let o = 0; o < cout; o++)
              filter[(((kd * 3 + kh) * 3 + kw) * cin + c) * cout + o] =
                total[(kw * cout + o) * width + (kd * 3 + kh) * cin + c];
  });
}

/**
 * dx: the gradient w.r.t. the padded input is dxp[p] = Σ_k dy[p − k]·w[k] (dy zero outside).
 * Columns of dy over (kd, kh, o) at padded (zp, yp) and unshifted x, times w as [(kd,kh,o), (kw,c)],
 * give R; dxp[zp, yp, x + kw] += R_kw[zp, yp, x], and each padded voxel adds into the voxel it reflected.
 */
function inputGradient(dy: tf.Tensor, weights: tf.Tensor): tf.Tensor {
  const [n, d, h, w, cout] = dy.shape as Shape5;
  const cin = weights.shape[3]!;
  const [pd, ph] = [d + 2, h + 2];
  const width = 9 * cout;
  const flipped = tensorFilled<tf.Rank.R2>([width, 3 * cin], (values) => {
    const filter = valuesOf(weights);
    for (let kd = 0; kd < 3; kd++)
      for (let kh = 0; kh < 3; kh++)
        for (let kw = 0; kw < 3; kw++)
          for (let c = 0; c < cin; c++)
            for (let o = 0; o < cout; o++)
              values[((kd * 3 + kh) * cout + o) * 3 * cin + kw * cin + c] =
                filter[(((kd * 3 + kh) * 3 + kw) * cin + c) * cout + o];
  });
  const run = executor();
  const dx = zeros([n, d, h, w, cin], run);
  const plane = ph * w;
  const step = slabDepth(plane, width, pd);
  for (let b = 0; b < n; b++) {
    for (let z0 = 0; z0 < pd; z0 += step) {
      const z1 = Math.min(pd, z0 + step);
      const rows = (z1 - z0) * plane;
      const columns = tensorFilled<tf.Rank.R2>([rows, width], (cols) => {
        zero(cols, width, run);
        run.run(
          'fillGradientColumns',
          [run.address(valuesOf(dy)), b, d, h, w, cout, z0, run.address(cols)],
          [z0, z1],
          1,
          rows * width,
        );
      });
      const product = matMul(columns, flipped);
      columns.dispose();
      // each padded voxel adds into the voxel it reflected: several rows may reach one line, so one thread
      const [taps, result] = [run.address(valuesOf(product)), run.address(valuesOf(dx))];
      let row = 0;
      for (let zp = z0; zp < z1; zp++) {
        const z = reflect(zp - 1, d);
        for (let yp = 0; yp < ph; yp++, row += w) {
          const line = result + 4 * ((b * d + z) * h + reflect(yp - 1, h)) * w * cin;
          run.run('scatterTaps', [line, taps + 4 * row * 3 * cin, w, cin], [0, 1], 1, 0);
        }
      }
      product.dispose();
    }
  }
  flipped.dispose();
  return dx;
}

/** The same convolution from tfjs's own ops (reflection by slicing), for the native back end and as a test oracle. */
export function conv3dReflectStock(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  return tf.tidy(() => tf.conv3d(reflectPad(x), w, 1, 'valid'));
}

/**
 * Reflection padding of one voxel on the three spatial axes, from slices and concatenation of
 * rank-3 views [outer, axis, inner] (the gradient of a slice is a pad, which tfjs's WebGPU back end
 * gets wrong at rank 5).
 */
export function reflectPad(x: tf.Tensor5D): tf.Tensor5D {
  let padded: tf.Tensor5D = x;
  for (const axis of [1, 2, 3]) {
    const shape = padded.shape;
    const size = shape[axis];
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const view = padded.reshape([outer, size, inner]);
    const before = view.slice([0, size > 1 ? 1 : 0, 0], [outer, 1, inner]);
    const after = view.slice([0, size > 1 ? size - 2 : 0, 0], [outer, 1, inner]);
    padded = tf
      .concat([before, view, after], 1)
      .reshape(Object.assign([...shape], { [axis]: size + 2 })) as tf.Tensor5D;
  }
  return padded;
}
