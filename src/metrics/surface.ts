import type { Vec3 } from '../io/affine.js';
import { squaredDistanceTransform } from './edt.js';

/**
 * Voxels of a mask (bit `bit` of `codes`, a box of shape `shape`) that have a 6-neighbour outside
 * the mask: the mask minus its erosion by the face-connected structuring element, with everything
 * outside the box counted as background.
 */
export function surfaceVoxels(codes: Uint8Array, shape: Vec3, bit: number): Int32Array {
  const [nx, ny, nz] = shape;
  const plane = nx * ny;
  const found: number[] = [];
  for (let k = 0, index = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, index++) {
        if (!(codes[index] & bit)) continue;
        if (
          i === 0 ||
          i === nx - 1 ||
          j === 0 ||
          j === ny - 1 ||
          k === 0 ||
          k === nz - 1 ||
          !(codes[index - 1] & bit) ||
          !(codes[index + 1] & bit) ||
          !(codes[index - nx] & bit) ||
          !(codes[index + nx] & bit) ||
          !(codes[index - plane] & bit) ||
          !(codes[index + plane] & bit)
        ) {
          found.push(index);
        }
      }
    }
  }
  return Int32Array.from(found);
}

/** Distances (mm) from each voxel of `from` to the nearest voxel of `to`, both indices into one box. */
export function directedDistances(from: Int32Array, to: Int32Array, shape: Vec3, spacing: Vec3): Float64Array {
  const squared = new Float64Array(shape[0] * shape[1] * shape[2]).fill(Infinity);
  for (const index of to) squared[index] = 0;
  squaredDistanceTransform(squared, shape, spacing);
  const distances = new Float64Array(from.length);
  for (let n = 0; n < from.length; n++) distances[n] = Math.sqrt(squared[from[n]]);
  return distances;
}

/** The p-th percentile with linear interpolation between order statistics (numpy's default). Sorts `values`. */
export function percentile(values: Float64Array, p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty set');
  values.sort();
  const position = ((values.length - 1) * p) / 100;
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, values.length - 1);
  return values[lower] + (values[upper] - values[lower]) * (position - lower);
}
