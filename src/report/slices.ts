import { percentile } from '../data/intensity.js';
import { toClosestCanonical } from '../io/orientation.js';
import type { Volume, VoxelArray } from '../io/volume.js';

/**
 * Orthogonal slices of a volume as a viewer shows them. Volumes are first put in closest-RAS voxel
 * order, so that rows run from superior (or anterior, in axial slices) at the top down, whatever
 * the file's storage order. Neurological convention (the default) shows the patient's left on the
 * left of axial and coronal slices, radiological on the right. Sagittal slices have anterior on the
 * right.
 */
export type Convention = 'neurological' | 'radiological';
export type SliceView = 'sagittal' | 'coronal' | 'axial';

export const SLICE_VIEWS: SliceView[] = ['sagittal', 'coronal', 'axial'];

/** How a page says what its slices show. */
export function conventionNote(convention: Convention): string {
  const left = convention === 'neurological' ? 'on the left' : 'on the right';
  return `Sagittal, coronal and axial slices in ${convention} convention (the patient's left ${left} of axial and coronal slices), anterior on the right of sagittal slices; intensities windowed to the 0.5th–99.5th percentiles of the nonzero voxels.`;
}

/** Row-major values, row 0 at the top; `pixel` is the size of a voxel across and down in mm. */
export interface Slice {
  width: number;
  height: number;
  values: Float32Array;
  pixel: [number, number];
}

/** The volume in closest-RAS order: x from left to right, y posterior to anterior, z inferior to superior. */
export function canonicalVolume<T extends VoxelArray>(volume: Volume<T>): Volume<T> {
  return toClosestCanonical(volume).volume;
}

/** The axis a view cuts across (0 x, 1 y, 2 z) in a canonical volume. */
export function viewAxis(view: SliceView): number {
  return view === 'sagittal' ? 0 : view === 'coronal' ? 1 : 2;
}

/** One slice of a canonical volume (first channel of a 4D one). */
export function extractSlice(volume: Volume, view: SliceView, index: number, convention: Convention): Slice {
  const [nx, ny, nz] = volume.shape;
  const at = (i: number, j: number, k: number) => volume.data[i + nx * (j + ny * k)];
  const [sx, sy, sz] = volume.spacing;
  const flipX = convention === 'radiological';
  const x = (column: number, width: number) => (flipX ? width - 1 - column : column);
  if (view === 'axial') return build(nx, ny, [sx, sy], (column, row) => at(x(column, nx), ny - 1 - row, index));
  if (view === 'coronal') return build(nx, nz, [sx, sz], (column, row) => at(x(column, nx), index, nz - 1 - row));
  return build(ny, nz, [sy, sz], (column, row) => at(index, column, nz - 1 - row));
}

function build(width: number, height: number, pixel: [number, number], value: (c: number, r: number) => number): Slice {
  const values = new Float32Array(width * height);
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) values[c + width * r] = value(c, r);
  return { width, height, values, pixel };
}

/** The voxel each view cuts through: the centroid of the nonzero voxels of `mask` (or the centre). */
export function centreVoxel(volume: Pick<Volume, 'shape'>, mask?: ArrayLike<number>): [number, number, number] {
  const [nx, ny, nz] = volume.shape;
  if (mask) {
    let [sum, sx, sy, sz] = [0, 0, 0, 0];
    for (let k = 0, n = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, n++) if (mask[n] !== 0) [sum, sx, sy, sz] = [sum + 1, sx + i, sy + j, sz + k];
    if (sum > 0) return [Math.round(sx / sum), Math.round(sy / sum), Math.round(sz / sum)];
  }
  return [Math.floor(nx / 2), Math.floor(ny / 2), Math.floor(nz / 2)];
}

export interface IntensityWindow {
  low: number;
  high: number;
}

/**
 * Display window from percentiles of the nonzero voxels (all voxels when every one is zero), each
 * with linear interpolation between order statistics as numpy.percentile computes it.
 */
export function percentileWindow(data: ArrayLike<number>, lowPercent = 0.5, highPercent = 99.5): IntensityWindow {
  const nonzero = Float32Array.from(data).filter((v) => v !== 0 && Number.isFinite(v));
  const values = nonzero.length > 0 ? nonzero : new Float32Array(1);
  const low = percentile(values, lowPercent);
  const high = percentile(values, highPercent);
  return { low, high: high > low ? high : low + 1 };
}

/** Gray level 0–255 of each value in the window, rounded to nearest. */
export function grayLevel(value: number, window: IntensityWindow): number {
  const level = Math.round((255 * (value - window.low)) / (window.high - window.low));
  return Math.min(255, Math.max(0, Number.isFinite(level) ? level : 0));
}
