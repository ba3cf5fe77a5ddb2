import { chunkCount, softmaxChunkSums, softmaxGradientRows, sumStride } from './softmax-loops.js';

/**
 * The kernel calls the compute threads share (engine/kernel-pool.ts): each takes the kernels of its
 * thread's instance, the call's arguments (byte offsets and sizes) and its part [start, end) of
 * the range, and writes only that part's output.
 */
export type Kernel = (...args: number[]) => void;
/** `heap`: the wasm heap's buffer, for the tasks written in JS (absent off wasm, where no such task runs). */
export type Task = (
  kernels: Record<string, Kernel>,
  args: number[],
  start: number,
  end: number,
  heap?: ArrayBufferLike,
) => void;

/** gemm over rows [start, end) of C (start a multiple of 4: A's row groups). */
function gemmRows(
  kernels: Record<string, Kernel>,
  [a, groupStride, rowStride, columnStride, panels, c, cRowStride, n, k]: number[],
  start: number,
  end: number,
): void {
  kernels.gemm(
    a + (start / 4) * groupStride,
    groupStride,
    rowStride,
    columnStride,
    panels,
    c + start * cRowStride,
    cRowStride,
    end - start,
    n,
    k,
  );
}

/** gemm over the 8-column panels [start, end) of B and C. */
function gemmPanels(
  kernels: Record<string, Kernel>,
  [a, groupStride, rowStride, columnStride, panels, c, cRowStride, m, n, k]: number[],
  start: number,
  end: number,
): void {
  kernels.gemm(
    a,
    groupStride,
    rowStride,
    columnStride,
    panels + start * 32 * k,
    c + start * 32,
    cRowStride,
    m,
    Math.min(n, 8 * end) - 8 * start,
    k,
  );
}

/** Rows of B packed at a time, so that the lines one panel reads are still cached for the next. */
export const PACK_ROWS = 64;

/** packPanels over rows [start, end) of B (start a multiple of PACK_ROWS). */
function packRows(
  kernels: Record<string, Kernel>,
  [panels, source, rowStride, columnStride, k, n]: number[],
  start: number,
  end: number,
): void {
  for (let row = start; row < end; row += PACK_ROWS)
    kernels.packPanels(
      panels + 32 * row,
      32 * k,
      source + row * rowStride,
      rowStride,
      columnStride,
      Math.min(PACK_ROWS, end - row),
      n,
    );
}

/** Reflection of index i into [0, n): −1 → 1, n → n − 2 (a one-voxel axis reflects onto itself). */
export function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}

/**
 * The x taps of a line of w voxels for one kw: visits (x, r, count) for the voxels x … x+count−1
 * whose neighbour x + kw − 1 lies at r … r+count−1 (a plain shift inside the line), then for each
 * voxel at an end whose neighbour is reflected.
 */
export function lineTaps(w: number, kw: number, visit: (x: number, r: number, count: number) => void): void {
  const [first, end] = [Math.max(0, 1 - kw), Math.min(w, w + 1 - kw)];
  if (end > first) visit(first, first + kw - 1, end - first);
  for (let x = 0; x < first; x++) visit(x, reflect(x + kw - 1, w), 1);
  for (let x = Math.max(end, first); x < w; x++) visit(x, reflect(x + kw - 1, w), 1);
}

/**
 * Convolution columns of x (byte offset xs; batch item b of [n, d, h, w, c]) for depths
 * [start, end) of a slab starting at z0: row = voxel, columns = (kd, kh, c) of x at
 * (reflect(z+kd−1), reflect(y+kh−1), x), each line of w·c values copied as w runs of c.
 */
function fillColumns(
  kernels: Record<string, Kernel>,
  [xs, b, d, h, w, c, z0, cols]: number[],
  start: number,
  end: number,
): void {
  const width = 9 * c;
  let row = (start - z0) * h * w;
  for (let z = start; z < end; z++) {
    for (let y = 0; y < h; y++, row += w) {
      for (let k = 0; k < 9; k++) {
        const line = ((b * d + reflect(z + Math.floor(k / 3) - 1, d)) * h + reflect(y + (k % 3) - 1, h)) * w * c;
        kernels.copyBlocks(cols + 4 * (row * width + k * c), 4 * width, xs + 4 * line, 4 * c, 4 * c, w);
      }
    }
  }
}

/**
 * The columns of dy for the input gradient, depths [start, end) of the padded volume (slab from
 * z0): row = padded voxel (zp, yp, x), columns = (kd, kh, o) of dy at (zp − kd, yp − kh, x), zero
 * outside dy (the columns start zeroed).
 */
function fillGradientColumns(
  kernels: Record<string, Kernel>,
  [dy, b, d, h, w, cout, z0, cols]: number[],
  start: number,
  end: number,
): void {
  const width = 9 * cout;
  let row = (start - z0) * (h + 2) * w;
  for (let zp = start; zp < end; zp++) {
    for (let yp = 0; yp < h + 2; yp++, row += w) {
      for (let k = 0; k < 9; k++) {
        const [z, y] = [zp - Math.floor(k / 3), yp - (k % 3)];
        if (z >= 0 && z < d && y >= 0 && y < h)
          kernels.copyBlocks(
            cols + 4 * (row * width + k * cout),
            4 * width,
            dy + 4 * ((b * d + z) * h + y) * w * cout,
            4 * cout,
            4 * cout,
            w,
          );
      }
    }
  }
}

/**
 * out[line + x] += Σ_kw taps_kw[line + reflect(x + kw − 1)] for the lines [start, end) of w voxels
 * (the forward convolution's x taps, taps [rows, 3·c] beside each other per kw).
 */
function addTaps(kernels: Record<string, Kernel>, [out, taps, w, c]: number[], start: number, end: number): void {
  for (let line = start * w; line < end * w; line += w) {
    for (let kw = 0; kw < 3; kw++) {
      lineTaps(w, kw, (x, r, count) =>
        kernels.addBlocks(
          out + 4 * (line + x) * c,
          4 * c,
          taps + 4 * ((line + r) * 3 * c + kw * c),
          4 * 3 * c,
          4 * c,
          count,
        ),
      );
    }
  }
}

/**
 * The filter gradient's shifted dy for the lines [start, end): each voxel's gradient added at the
 * input column it read, per kw ([rows, 3·c], zeroed first).
 */
function shiftTaps(kernels: Record<string, Kernel>, [shifted, dy, w, c]: number[], start: number, end: number): void {
  for (let line = start * w; line < end * w; line += w) {
    for (let kw = 0; kw < 3; kw++) {
      lineTaps(w, kw, (x, r, count) =>
        kernels.addBlocks(
          shifted + 4 * ((line + r) * 3 * c + kw * c),
          4 * 3 * c,
          dy + 4 * (line + x) * c,
          4 * c,
          4 * c,
          count,
        ),
      );
    }
  }
}

/**
 * The input gradient's x taps of one padded row (taps [w, 3·c] per kw) added into the line of dx it
 * reflects onto: dx[reflect(x + kw − 1)] += taps_kw[x]. A part is one row ([0, 1)).
 */
function scatterTaps(kernels: Record<string, Kernel>, [line, taps, w, c]: number[]): void {
  for (let kw = 0; kw < 3; kw++) {
    lineTaps(w, kw, (x, r, count) =>
      kernels.addBlocks(line + 4 * r * c, 4 * c, taps + 4 * (x * 3 * c + kw * c), 4 * 3 * c, 4 * c, count),
    );
  }
}

/** Zeroes the rows [start, end) of `rowBytes` bytes each from `at`. */
function zeroRows(kernels: Record<string, Kernel>, [at, rowBytes]: number[], start: number, end: number): void {
  kernels.zeroBytes(at + start * rowBytes, (end - start) * rowBytes);
}

/** copyBlocks over the blocks [start, end): block i of `bytes` bytes from src + i·srcStride to dst + i·dstStride. */
function copyRows(
  kernels: Record<string, Kernel>,
  [dst, dstStride, src, srcStride, bytes]: number[],
  start: number,
  end: number,
): void {
  kernels.copyBlocks(dst + start * dstStride, dstStride, src + start * srcStride, srcStride, bytes, end - start);
}

/**
 * Nearest ×2 upsampling of x [n, d, h, w, c] (at `input`) into the output lines [start, end) of
 * [n, 2d, 2h, 2w, c]: each voxel's c values written twice along the line.
 */
function upsampleLines(
  kernels: Record<string, Kernel>,
  [out, input, d, h, w, c]: number[],
  start: number,
  end: number,
): void {
  for (let line = start; line < end; line++) {
    const y = line % (2 * h);
    const bz = (line - y) / (2 * h);
    const z = bz % (2 * d);
    const source = input + 4 * (((bz - z) / 2 + (z >> 1)) * h + (y >> 1)) * w * c;
    const target = out + 4 * line * 2 * w * c;
    kernels.copyBlocks(target, 8 * c, source, 4 * c, 4 * c, w);
    kernels.copyBlocks(target + 4 * c, 8 * c, source, 4 * c, 4 * c, w);
  }
}

/**
 * The gradient of upsampleLines for the input lines [start, end) of [n, d, h, w, c]: each voxel
 * receives the sum of its eight copies' gradients, added in the output's order.
 */
function upsampleGradientLines(
  kernels: Record<string, Kernel>,
  [dx, dy, h, w, c]: number[],
  start: number,
  end: number,
): void {
  for (let line = start; line < end; line++) {
    const y = line % h;
    const bz = (line - y) / h;
    const target = dx + 4 * line * w * c;
    for (let copy = 0; copy < 8; copy++) {
      const [dz, dyOffset, dxOffset] = [copy >> 2, (copy >> 1) & 1, copy & 1];
      const source = dy + 4 * (((2 * bz + dz) * 2 * h + 2 * y + dyOffset) * 2 * w + dxOffset) * c;
      (copy === 0 ? kernels.copyBlocks : kernels.addBlocks)(target, 4 * c, source, 8 * c, 4 * c, w);
    }
  }
}

/** The rows [start, end) of Aᵀ (a [k, m] matrix at `source`) as gemm's groups of four rows, [k][4] floats each. */
function rowGroups(
  kernels: Record<string, Kernel>,
  [groups, source, m, k]: number[],
  start: number,
  end: number,
): void {
  for (let column = 0; column < k; column += PACK_ROWS) {
    const count = Math.min(PACK_ROWS, k - column);
    for (let row = start; row < end; row += 4)
      kernels.copyBlocks(
        groups + 4 * (row * k + 4 * column),
        16,
        source + 4 * (column * m + row),
        4 * m,
        4 * Math.min(4, m - row),
        count,
      );
  }
}

/**
 * Rows per chunk of batch normalisation's sums (engine/batch-norm.ts): each chunk summed into its own
 * float64 sums, which are added in chunk order, so the result is the same on any number of threads.
 */
export const NORM_CHUNK = 2048;

/** channelSums of the row chunks [start, end) of data [rows, channels], chunk i into sums + 8·i·channels. */
function channelSumChunks(
  kernels: Record<string, Kernel>,
  [data, rows, channels, centred, mean, sums]: number[],
  start: number,
  end: number,
): void {
  for (let chunk = start; chunk < end; chunk++) {
    const at = sums + 8 * chunk * channels;
    kernels.zeroBytes(at, 8 * channels);
    kernels.channelSums(
      data + 4 * chunk * NORM_CHUNK * channels,
      data + 4 * Math.min(rows, (chunk + 1) * NORM_CHUNK) * channels,
      channels,
      centred,
      mean,
      at,
    );
  }
}

/** gradientSums of the row chunks [start, end), chunk i into sumDy and sumDyX + 8·i·channels. */
function gradientSumChunks(
  kernels: Record<string, Kernel>,
  [g, data, rows, channels, scale, shift, relu, mean, inverseStd, sumDy, sumDyX]: number[],
  start: number,
  end: number,
): void {
  for (let chunk = start; chunk < end; chunk++) {
    const [first, offset] = [4 * chunk * NORM_CHUNK * channels, 8 * chunk * channels];
    kernels.zeroBytes(sumDy + offset, 8 * channels);
    kernels.zeroBytes(sumDyX + offset, 8 * channels);
    const to = data + 4 * Math.min(rows, (chunk + 1) * NORM_CHUNK) * channels;
    kernels.gradientSums(
      g + first,
      data + first,
      to,
      channels,
      scale,
      shift,
      relu,
      mean,
      inverseStd,
      sumDy + offset,
      sumDyX + offset,
    );
  }
}

/** normaliseRows over the rows [start, end). */
function normaliseRowRange(
  kernels: Record<string, Kernel>,
  [y, data, channels, scale, shift, relu]: number[],
  start: number,
  end: number,
): void {
  const rowBytes = 4 * channels;
  kernels.normaliseRows(
    y + start * rowBytes,
    data + start * rowBytes,
    data + end * rowBytes,
    channels,
    scale,
    shift,
    relu,
  );
}

/** inputGradient over the rows [start, end). */
function inputGradientRowRange(
  kernels: Record<string, Kernel>,
  [dx, g, data, channels, ...rest]: number[],
  start: number,
  end: number,
): void {
  const rowBytes = 4 * channels;
  kernels.inputGradient(
    dx + start * rowBytes,
    g + start * rowBytes,
    data + start * rowBytes,
    data + end * rowBytes,
    channels,
    ...rest,
  );
}

/** adam over the elements [start, end) of a weight: g, m, v, w and out byte offsets, then the step's constants. */
function adamRange(
  kernels: Record<string, Kernel>,
  [g, m, v, w, out, ...constants]: number[],
  start: number,
  end: number,
): void {
  const at = 4 * start;
  kernels.adam(g + at, m + at, v + at, w + at, out + at, end - start, ...constants);
}

/** markNonFinite over the elements [start, end) of the float32 values at `values`. */
function nonFiniteRange(kernels: Record<string, Kernel>, [values, flag]: number[], start: number, end: number): void {
  kernels.markNonFinite(values + 4 * start, end - start, flag);
}

/** softmaxChunkSums (engine/softmax-loops.ts) over the chunks [start, end), on views of the heap. */
function softmaxSums(
  _: Record<string, Kernel>,
  [z, p, labels, sums, n, k, voxels]: number[],
  start: number,
  end: number,
  heap?: ArrayBufferLike,
): void {
  const rows = n * voxels;
  softmaxChunkSums(
    new Float32Array(heap!, z, rows * k),
    new Float32Array(heap!, p, rows * k),
    new Int32Array(heap!, labels, rows),
    new Float64Array(heap!, sums, chunkCount(n, voxels) * sumStride(k)),
    k,
    voxels,
    start,
    end,
  );
}

/** softmaxGradientRows (engine/softmax-loops.ts) over the voxels [start, end), on views of the heap. */
function softmaxGradient(
  _: Record<string, Kernel>,
  [p, labels, coefficients, out, n, k, voxels, ce]: number[],
  start: number,
  end: number,
  heap?: ArrayBufferLike,
): void {
  const rows = n * voxels;
  softmaxGradientRows(
    new Float32Array(heap!, p, rows * k),
    new Int32Array(heap!, labels, rows),
    new Float64Array(heap!, coefficients, 2 * n * k),
    new Float32Array(heap!, out, rows * k),
    k,
    voxels,
    ce,
    start,
    end,
  );
}

export const TASK_FUNCTIONS = {
  gemmRows,
  gemmPanels,
  packRows,
  fillColumns,
  fillGradientColumns,
  addTaps,
  shiftTaps,
  scatterTaps,
  rowGroups,
  zeroRows,
  copyRows,
  upsampleLines,
  upsampleGradientLines,
  channelSumChunks,
  gradientSumChunks,
  normaliseRowRange,
  inputGradientRowRange,
  softmaxSums,
  softmaxGradient,
  adamRange,
  nonFiniteRange,
} satisfies Record<string, Task>;
export type TaskName = keyof typeof TASK_FUNCTIONS;
export const TASKS = Object.keys(TASK_FUNCTIONS) as TaskName[];
