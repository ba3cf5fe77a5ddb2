import { invertAffine, multiply4, type Mat4 } from './affine.js';
import { spatialShape, voxelCount, type Grid, type Volume, type VoxelArray } from './volume.js';

/**
 * 'linear': trilinear (images, float32 result). 'nearest': nearest neighbour (labels; keeps the
 * datatype). 'label': ANTs' GenericLabel[Linear] — each label's indicator is interpolated
 * trilinearly and the label with the largest weight wins, which places label boundaries between
 * voxel centres instead of snapping them to the nearest one (keeps the datatype).
 */
export type Interpolation = 'linear' | 'nearest' | 'label';

/** Positions within this many voxels of the edge count as inside (affine round-off on identical grids). */
const EDGE_TOLERANCE = 1e-6;

/**
 * Reads `source` at continuous voxel position (px, py, pz) into out[index + t·outFrame] for every
 * frame t. Points outside the source's extent [0, n−1] get `fill`, as scipy.ndimage.map_coordinates
 * with mode='constant'; 'nearest' rounds halves up, as scipy does.
 */
export class VoxelSampler {
  private readonly shape: [number, number, number];
  private readonly frames: number;
  private readonly frameSize: number;

  constructor(
    private readonly source: Volume,
    private readonly interpolation: Interpolation,
    private readonly fill: number,
  ) {
    this.shape = spatialShape(source);
    this.frames = source.shape[3] ?? 1;
    this.frameSize = voxelCount(this.shape);
  }

  createOutput(targetVoxels: number): VoxelArray {
    const length = targetVoxels * this.frames;
    return this.interpolation !== 'linear'
      ? new (this.source.data.constructor as new (n: number) => VoxelArray)(length)
      : new Float32Array(length);
  }

  sample(px: number, py: number, pz: number, out: VoxelArray, index: number, outFrame: number): void {
    const [sx, sy, sz] = this.shape;
    const d = this.source.data;
    if (!(
      px >= -EDGE_TOLERANCE &&
      px <= sx - 1 + EDGE_TOLERANCE &&
      py >= -EDGE_TOLERANCE &&
      py <= sy - 1 + EDGE_TOLERANCE &&
      pz >= -EDGE_TOLERANCE &&
      pz <= sz - 1 + EDGE_TOLERANCE
    )) {
      for (let t = 0; t < this.frames; t++) out[index + t * outFrame] = this.fill;
      return;
    }
    const plane = sx * sy;
    if (this.interpolation === 'nearest') {
      const offset =
        Math.min(Math.round(px), sx - 1) +
        sx * Math.min(Math.round(py), sy - 1) +
        plane * Math.min(Math.round(pz), sz - 1);
      for (let t = 0; t < this.frames; t++) out[index + t * outFrame] = d[offset + t * this.frameSize];
      return;
    }
    const x0 = Math.min(Math.max(Math.floor(px), 0), sx - 1);
    const y0 = Math.min(Math.max(Math.floor(py), 0), sy - 1);
    const z0 = Math.min(Math.max(Math.floor(pz), 0), sz - 1);
    const fx = Math.min(Math.max(px - x0, 0), 1);
    const fy = Math.min(Math.max(py - y0, 0), 1);
    const fz = Math.min(Math.max(pz - z0, 0), 1);
    const dx = x0 < sx - 1 ? 1 : 0;
    const dy = y0 < sy - 1 ? sx : 0;
    const dz = z0 < sz - 1 ? plane : 0;
    const base = x0 + sx * y0 + plane * z0;
    if (this.interpolation === 'label') {
      const offsets = [0, dx, dy, dy + dx, dz, dz + dx, dz + dy, dz + dy + dx];
      const weights = [
        (1 - fx) * (1 - fy) * (1 - fz),
        fx * (1 - fy) * (1 - fz),
        (1 - fx) * fy * (1 - fz),
        fx * fy * (1 - fz),
        (1 - fx) * (1 - fy) * fz,
        fx * (1 - fy) * fz,
        (1 - fx) * fy * fz,
        fx * fy * fz,
      ];
      for (let t = 0; t < this.frames; t++) {
        const o = base + t * this.frameSize;
        let best = d[o];
        let bestWeight = -1;
        for (let a = 0; a < 8; a++) {
          const label = d[o + offsets[a]];
          let weight = 0;
          for (let b = 0; b < 8; b++) if (d[o + offsets[b]] === label) weight += weights[b];
          if (weight > bestWeight) {
            bestWeight = weight;
            best = label;
          }
        }
        out[index + t * outFrame] = best;
      }
      return;
    }
    for (let t = 0; t < this.frames; t++) {
      const o = base + t * this.frameSize;
      const c00 = d[o] * (1 - fx) + d[o + dx] * fx;
      const c10 = d[o + dy] * (1 - fx) + d[o + dy + dx] * fx;
      const c01 = d[o + dz] * (1 - fx) + d[o + dz + dx] * fx;
      const c11 = d[o + dz + dy] * (1 - fx) + d[o + dz + dy + dx] * fx;
      out[index + t * outFrame] = (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
    }
  }
}

function onGrid(data: VoxelArray, grid: Grid, frames: number): Volume {
  const [tx, ty, tz] = spatialShape(grid);
  return {
    data,
    shape: frames > 1 ? [tx, ty, tz, frames] : [tx, ty, tz],
    spacing: [...grid.spacing],
    affine: grid.affine.map((r) => [...r]),
    xforms: grid.xforms,
  };
}

/**
 * Resamples `source` onto the grid of `target` through both affines (world coordinates in mm).
 * 'linear' is trilinear (images, float32 result), 'nearest' keeps the source values and datatype
 * (labels). 4D sources are resampled frame by frame.
 */
export function resampleToGrid(source: Volume, target: Grid, interpolation: Interpolation, fill = 0): Volume {
  const out = resampleVoxelMap(
    source,
    spatialShape(target),
    multiply4(invertAffine(source.affine), target.affine),
    interpolation,
    fill,
  );
  return onGrid(out, target, source.shape[3] ?? 1);
}

/** Voxel (i, j, k) of a grid of `shape` takes the value of `source` at voxel position `voxelMap`·(i, j, k). */
export function resampleVoxelMap(
  source: Volume,
  shape: [number, number, number],
  voxelMap: Mat4,
  interpolation: Interpolation,
  fill = 0,
): VoxelArray {
  const [tx, ty, tz] = shape;
  const sampler = new VoxelSampler(source, interpolation, fill);
  const targetVoxels = tx * ty * tz;
  const out = sampler.createOutput(targetVoxels);
  const m = voxelMap;
  for (let k = 0, index = 0; k < tz; k++) {
    for (let j = 0; j < ty; j++) {
      let px = m[0][1] * j + m[0][2] * k + m[0][3];
      let py = m[1][1] * j + m[1][2] * k + m[1][3];
      let pz = m[2][1] * j + m[2][2] * k + m[2][3];
      for (let i = 0; i < tx; i++, index++, px += m[0][0], py += m[1][0], pz += m[2][0]) {
        sampler.sample(px, py, pz, out, index, targetVoxels);
      }
    }
  }
  return out;
}

/**
 * Resamples `source` onto the grid of `field` through a displacement field: target voxel x (world
 * mm) takes the source value at x + u(x), where u is the 4D field [nx, ny, nz, 3] in mm (RAS).
 * This is the pull-back convention of ITK displacement fields (fixed → moving), in RAS and 4D.
 */
export function resampleThroughField(source: Volume, field: Volume, interpolation: Interpolation, fill = 0): Volume {
  if (field.shape[3] !== 3)
    throw new RangeError(`a displacement field needs 3 components, this one has shape ${field.shape.join('×')}`);
  const [tx, ty, tz] = spatialShape(field);
  const targetVoxels = tx * ty * tz;
  const sampler = new VoxelSampler(source, interpolation, fill);
  const out = sampler.createOutput(targetVoxels);
  const toSource = invertAffine(source.affine);
  const a = field.affine;
  const u = field.data;
  for (let k = 0, n = 0; k < tz; k++) {
    for (let j = 0; j < ty; j++) {
      for (let i = 0; i < tx; i++, n++) {
        const x = a[0][0] * i + a[0][1] * j + a[0][2] * k + a[0][3] + u[n];
        const y = a[1][0] * i + a[1][1] * j + a[1][2] * k + a[1][3] + u[n + targetVoxels];
        const z = a[2][0] * i + a[2][1] * j + a[2][2] * k + a[2][3] + u[n + 2 * targetVoxels];
        sampler.sample(
          toSource[0][0] * x + toSource[0][1] * y + toSource[0][2] * z + toSource[0][3],
          toSource[1][0] * x + toSource[1][1] * y + toSource[1][2] * z + toSource[1][3],
          toSource[2][0] * x + toSource[2][1] * y + toSource[2][2] * z + toSource[2][3],
          out,
          n,
          targetVoxels,
        );
      }
    }
  }
  return onGrid(out, field, source.shape[3] ?? 1);
}
