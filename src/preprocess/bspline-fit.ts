import type { Vec3 } from '../io/affine.js';

/** Smooth fields over an image: tensor products of uniform cubic B-splines spanning its extent. */

/** Where each voxel along one axis falls on the spline: its first control point and four weights. */
interface AxisBasis {
  first: Int32Array;
  weights: Float64Array;
}

/** `positions` in [0, 1] along an axis cut into `elements` spans: cubic B-spline weights of the 4 control points around each. */
function axisBasis(positions: ArrayLike<number>, elements: number): AxisBasis {
  const first = new Int32Array(positions.length);
  const weights = new Float64Array(4 * positions.length);
  for (let i = 0; i < positions.length; i++) {
    const t = Math.min(Math.max(positions[i], 0), 1) * elements;
    const span = Math.min(Math.floor(t), elements - 1);
    const u = t - span;
    const v = 1 - u;
    first[i] = span;
    weights[4 * i] = (v * v * v) / 6;
    weights[4 * i + 1] = (3 * u * u * u - 6 * u * u + 4) / 6;
    weights[4 * i + 2] = (-3 * u * u * u + 3 * u * u + 3 * u + 1) / 6;
    weights[4 * i + 3] = (u * u * u) / 6;
  }
  return { first, weights };
}

/** The voxels of a grid, as positions in [0, 1] of the image extent along each axis. */
export type GridPositions = [Float64Array, Float64Array, Float64Array];

/** Calls visit(voxel, control points, weights) with the 64 control points that reach each voxel of a mask. */
function forEachSupport(
  positions: GridPositions,
  elements: Vec3,
  mask: Uint8Array | undefined,
  visit: (voxel: number, points: Int32Array, weights: Float64Array) => void,
): void {
  const [bx, by, bz] = positions.map((p, axis) => axisBasis(p, elements[axis]));
  const [px, py] = [elements[0] + 3, elements[1] + 3];
  const points = new Int32Array(64);
  const weights = new Float64Array(64);
  const [nx, ny, nz] = positions.map((p) => p.length);
  for (let k = 0, n = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        if (mask && !mask[n]) continue;
        let m = 0;
        for (let c = 0; c < 4; c++) {
          for (let b = 0; b < 4; b++) {
            const row = ((bz.first[k] + c) * py + by.first[j] + b) * px + bx.first[i];
            const wzy = bz.weights[4 * k + c] * by.weights[4 * j + b];
            for (let a = 0; a < 4; a++, m++) {
              points[m] = row + a;
              weights[m] = wzy * bx.weights[4 * i + a];
            }
          }
        }
        visit(n, points, weights);
      }
    }
  }
}

/** The 64 control points and weights of each voxel of a mask, computed once for all the fits on that mask. */
export class SplineSupport {
  readonly controlPoints: number;
  private readonly voxels: Int32Array;
  private readonly points: Int32Array;
  private readonly weights: Float32Array;
  /** Σ of the squared weights of each voxel. */
  private readonly squares: Float64Array;

  constructor(positions: GridPositions, elements: Vec3, mask: Uint8Array) {
    this.controlPoints = (elements[0] + 3) * (elements[1] + 3) * (elements[2] + 3);
    const count = mask.reduce((sum, m) => sum + m, 0);
    this.voxels = new Int32Array(count);
    this.points = new Int32Array(64 * count);
    this.weights = new Float32Array(64 * count);
    this.squares = new Float64Array(count);
    let m = 0;
    forEachSupport(positions, elements, mask, (n, points, weights) => {
      this.voxels[m] = n;
      this.points.set(points, 64 * m);
      this.weights.set(weights, 64 * m);
      for (let p = 0; p < 64; p++) this.squares[m] += weights[p] * weights[p];
      m++;
    });
  }

  /**
   * The B-spline approximation of scattered data of Lee, Wolberg and Shin (1997), which N4 fits with:
   * each voxel proposes for each of its 64 control points the coefficient that alone would
   * reproduce its value, and a control point takes the mean of its proposals weighted by the squared
   * basis weights. Smoother than least squares; a control point the mask does not reach stays 0.
   */
  approximate(values: ArrayLike<number>): Float64Array {
    const numerator = new Float64Array(this.controlPoints);
    const denominator = new Float64Array(this.controlPoints);
    const { voxels, points, weights, squares } = this;
    for (let m = 0; m < voxels.length; m++) {
      const value = values[voxels[m]] / squares[m];
      for (let p = 64 * m; p < 64 * m + 64; p++) {
        const w2 = weights[p] * weights[p];
        numerator[points[p]] += w2 * weights[p] * value;
        denominator[points[p]] += w2;
      }
    }
    return numerator.map((value, c) => (denominator[c] > 0 ? value / denominator[c] : 0));
  }

  /** Adds the field of `coefficients` at the mask's voxels to `out` (indexed by voxel). */
  addField(out: Float32Array, coefficients: Float64Array): void {
    const { voxels, points, weights } = this;
    for (let m = 0; m < voxels.length; m++) {
      let sum = 0;
      for (let p = 64 * m; p < 64 * m + 64; p++) sum += weights[p] * coefficients[points[p]];
      out[voxels[m]] += sum;
    }
  }
}

/** The field of `coefficients` (a lattice of `elements` spans) at every voxel of a grid (x fastest), added to `out`. */
export function addSplineField(
  out: Float32Array,
  positions: GridPositions,
  elements: Vec3,
  coefficients: Float64Array,
): void {
  forEachSupport(positions, elements, undefined, (n, points, weights) => {
    let sum = 0;
    for (let p = 0; p < 64; p++) sum += weights[p] * coefficients[points[p]];
    out[n] += sum;
  });
}
