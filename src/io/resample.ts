import { invertAffine, multiply4 } from './affine.js';
import { spatialShape, voxelCount, type Grid, type Volume, type VoxelArray } from './volume.js';

export type Interpolation = 'linear' | 'nearest';

/** Positions within this many voxels of the edge count as inside (affine round-off on identical grids). */
const EDGE_TOLERANCE = 1e-6;

/**
 * Resamples `source` onto the grid of `target` through both affines (world coordinates in mm).
 * 'linear' is trilinear (images), 'nearest' keeps the source values (labels; the source datatype is
 * kept). Points outside the source's extent [0, n−1] get `fill`, as scipy.ndimage.map_coordinates
 * with mode='constant'. 4D sources are resampled frame by frame.
 */
export function resampleToGrid(source: Volume, target: Grid, interpolation: Interpolation, fill = 0): Volume {
  const [sx, sy, sz] = spatialShape(source);
  const [tx, ty, tz] = spatialShape(target);
  const frames = source.shape[3] ?? 1;
  const outShape = frames > 1 ? [tx, ty, tz, frames] : [tx, ty, tz];
  const out: VoxelArray =
    interpolation === 'nearest'
      ? new (source.data.constructor as new (n: number) => VoxelArray)(voxelCount(outShape))
      : new Float32Array(voxelCount(outShape));
  const m = multiply4(invertAffine(source.affine), target.affine);
  const sliceSize = sx * sy;
  const frameSize = sliceSize * sz;
  const targetFrame = tx * ty * tz;
  const upper = [sx - 1 + EDGE_TOLERANCE, sy - 1 + EDGE_TOLERANCE, sz - 1 + EDGE_TOLERANCE];
  let index = 0;
  for (let k = 0; k < tz; k++) {
    for (let j = 0; j < ty; j++) {
      let px = m[0][1] * j + m[0][2] * k + m[0][3];
      let py = m[1][1] * j + m[1][2] * k + m[1][3];
      let pz = m[2][1] * j + m[2][2] * k + m[2][3];
      for (let i = 0; i < tx; i++, index++, px += m[0][0], py += m[1][0], pz += m[2][0]) {
        const inside =
          px >= -EDGE_TOLERANCE && px <= upper[0] && py >= -EDGE_TOLERANCE && py <= upper[1] && pz >= -EDGE_TOLERANCE && pz <= upper[2];
        if (!inside) {
          for (let t = 0; t < frames; t++) out[index + t * targetFrame] = fill;
          continue;
        }
        if (interpolation === 'nearest') {
          const offset = Math.min(Math.round(px), sx - 1) + sx * Math.min(Math.round(py), sy - 1) + sliceSize * Math.min(Math.round(pz), sz - 1);
          for (let t = 0; t < frames; t++) out[index + t * targetFrame] = source.data[offset + t * frameSize];
          continue;
        }
        const x0 = Math.min(Math.max(Math.floor(px), 0), sx - 1);
        const y0 = Math.min(Math.max(Math.floor(py), 0), sy - 1);
        const z0 = Math.min(Math.max(Math.floor(pz), 0), sz - 1);
        const fx = Math.min(Math.max(px - x0, 0), 1);
        const fy = Math.min(Math.max(py - y0, 0), 1);
        const fz = Math.min(Math.max(pz - z0, 0), 1);
        const dx = x0 < sx - 1 ? 1 : 0;
        const dy = y0 < sy - 1 ? sx : 0;
        const dz = z0 < sz - 1 ? sliceSize : 0;
        const base = x0 + sx * y0 + sliceSize * z0;
        for (let t = 0; t < frames; t++) {
          const d = source.data;
          const o = base + t * frameSize;
          const c00 = d[o] * (1 - fx) + d[o + dx] * fx;
          const c10 = d[o + dy] * (1 - fx) + d[o + dy + dx] * fx;
          const c01 = d[o + dz] * (1 - fx) + d[o + dz + dx] * fx;
          const c11 = d[o + dz + dy] * (1 - fx) + d[o + dz + dy + dx] * fx;
          out[index + t * targetFrame] = (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
        }
      }
    }
  }
  return { data: out, shape: outShape, spacing: [...target.spacing], affine: target.affine.map((r) => [...r]), xforms: target.xforms };
}
