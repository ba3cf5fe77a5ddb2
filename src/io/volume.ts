import {
  affineToQuaternion,
  maxAbsDifference,
  multiply4,
  translation4,
  type Mat4,
  type Quaternion,
  type Vec3,
} from './affine.js';

export type VoxelArray =
  Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/** The NIfTI spatial transforms as stored, so that a written file keeps its source's geometry. */
export interface NiftiXforms {
  qformCode: number;
  sformCode: number;
  quaternion: Quaternion;
  sform: Mat4;
  /** xyzt_units byte (spatial and temporal units). */
  xyztUnits: number;
  /** pixdim[4]: time step of a 4D series. */
  timeStep: number;
}

/**
 * Voxel data with its geometry. `data` is in NIfTI order: x (i) fastest, then y, z and t, so that
 * index = i + nx·(j + ny·(k + nz·t)); a tensor of shape [nz, ny, nx] views the same memory.
 */
export interface Volume<T extends VoxelArray = VoxelArray> {
  data: T;
  /** [nx, ny, nz] or [nx, ny, nz, nt]. */
  shape: number[];
  /** Voxel size in mm along i, j, k (pixdim[1..3]). */
  spacing: Vec3;
  /** Voxel (i, j, k) → world (mm), chosen as the NIfTI standard says (sform, else qform, else pixdim). */
  affine: Mat4;
  xforms: NiftiXforms;
}

/** The part of a Volume that defines where its voxels are. */
export type Grid = Pick<Volume, 'shape' | 'spacing' | 'affine' | 'xforms'>;

export function spatialShape(grid: Pick<Volume, 'shape'>): Vec3 {
  return [grid.shape[0], grid.shape[1], grid.shape[2]];
}

export function voxelCount(shape: readonly number[]): number {
  return shape.reduce((product, n) => product * n, 1);
}

export function voxelVolumeMm3(grid: Pick<Volume, 'spacing'>): number {
  return grid.spacing[0] * grid.spacing[1] * grid.spacing[2];
}

/** NIfTI codes for a brand-new grid: both transforms "aligned to another file" (NIFTI_XFORM_ALIGNED_ANAT). */
const ALIGNED_ANAT = 2;
/** xyzt_units for millimetres and seconds. */
export const UNITS_MM_SEC = 2 | 8;

/**
 * Geometry for a new affine on a grid derived from `source` (crop, reorientation, a new image):
 * sform is the affine, qform its closest rigid part; the source's codes and units are kept.
 */
export function xformsForAffine(affine: Mat4, source?: NiftiXforms): { xforms: NiftiXforms; spacing: Vec3 } {
  const { quaternion, spacing } = affineToQuaternion(affine);
  const hadCodes = source !== undefined && (source.qformCode > 0 || source.sformCode > 0);
  return {
    spacing,
    xforms: {
      qformCode: hadCodes ? source.qformCode : ALIGNED_ANAT,
      sformCode: hadCodes ? source.sformCode : ALIGNED_ANAT,
      quaternion,
      sform: affine.map((row) => [...row]),
      xyztUnits: source?.xyztUnits ?? UNITS_MM_SEC,
      timeStep: source?.timeStep ?? 0,
    },
  };
}

export function createVolume<T extends VoxelArray>(
  data: T,
  shape: number[],
  affine: Mat4,
  source?: NiftiXforms,
): Volume<T> {
  if (data.length !== voxelCount(shape)) {
    throw new RangeError(`data holds ${data.length} values but shape ${shape.join('×')} needs ${voxelCount(shape)}`);
  }
  const { xforms, spacing } = xformsForAffine(affine, source);
  return { data, shape: [...shape], spacing, affine: affine.map((row) => [...row]), xforms };
}

/** True when two grids have the same shape and affines within `toleranceMm`. */
export function sameGrid(
  a: Pick<Volume, 'shape' | 'affine'>,
  b: Pick<Volume, 'shape' | 'affine'>,
  toleranceMm = 1e-3,
): boolean {
  for (let axis = 0; axis < 3; axis++) if (a.shape[axis] !== b.shape[axis]) return false;
  return maxAbsDifference(a.affine, b.affine) <= toleranceMm;
}

/**
 * Crop and/or pad: the result has shape `size` and its voxel 0 is the source voxel `start`
 * (negative or out-of-range positions are filled with `fill`). The affine moves with the window.
 */
export function cropOrPad<T extends VoxelArray>(volume: Volume<T>, start: Vec3, size: Vec3, fill = 0): Volume<T> {
  const [nx, ny, nz] = spatialShape(volume);
  const frames = volume.shape[3] ?? 1;
  const Ctor = volume.data.constructor as new (length: number) => T;
  const out = new Ctor(size[0] * size[1] * size[2] * frames);
  if (fill !== 0) out.fill(fill);
  const x0 = Math.max(0, -start[0]);
  const x1 = Math.min(size[0], nx - start[0]);
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < size[2]; k++) {
      const sk = k + start[2];
      if (sk < 0 || sk >= nz) continue;
      for (let j = 0; j < size[1]; j++) {
        const sj = j + start[1];
        if (sj < 0 || sj >= ny || x1 <= x0) continue;
        const from = start[0] + x0 + nx * (sj + ny * (sk + nz * t));
        const to = x0 + size[0] * (j + size[1] * (k + size[2] * t));
        out.set(volume.data.subarray(from, from + (x1 - x0)) as never, to);
      }
    }
  }
  const affine = multiply4(volume.affine, translation4(start));
  const shape = volume.shape.length > 3 ? [...size, frames] : [...size];
  return createVolume(out, shape, affine, volume.xforms);
}
