import { applyAffine, invertAffine, multiply4, type Mat4 } from '../io/affine.js';
import { resampleToGrid } from '../io/resample.js';
import { createVolume, type Grid, type Volume } from '../io/volume.js';

/** Elementwise mean of affine matrices (the average transform of the sessions; refined by the template iterations). */
export function meanAffine(matrices: Mat4[]): Mat4 {
  return matrices[0].map((row, i) =>
    row.map((_, j) => matrices.reduce((sum, m) => sum + m[i][j], 0) / matrices.length),
  );
}

/** `source` moved so that resampling it onto a grid reads it at transform(p) for every grid point p. */
function throughAffine<T extends Volume>(source: T, transform: Mat4): T {
  return { ...source, affine: multiply4(invertAffine(transform), source.affine) };
}

/** Resamples `source` onto `grid`, reading it at transform(p) (world mm, RAS) for every grid point p. */
export function resampleAffine(
  source: Volume,
  grid: Grid,
  transform: Mat4,
  interpolation: 'linear' | 'nearest' | 'label',
): Volume {
  return resampleToGrid(throughAffine(source, transform), grid, interpolation);
}

/**
 * The displacement field on `grid` of "first `before` (an affine), then `field`" (when given):
 * p ↦ q = before(p), then q + u(q), u interpolated trilinearly and taken as 0 outside the field.
 */
export function composeField(grid: Grid, before: Mat4, field?: Volume): Volume {
  const [nx, ny, nz] = grid.shape;
  const voxels = nx * ny * nz;
  const out = field
    ? Float32Array.from(resampleAffine(field, grid, before, 'linear').data)
    : new Float32Array(3 * voxels);
  let n = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        const p = applyAffine(grid.affine, [i, j, k]);
        const q = applyAffine(before, p);
        for (let c = 0; c < 3; c++) out[n + c * voxels] += q[c] - p[c];
      }
    }
  }
  return createVolume(out, [nx, ny, nz, 3], grid.affine, grid.xforms);
}

/** A template: the voxelwise mean of the images, each resampled onto `grid` by `resample`. */
export function averageResampled(
  grid: Grid,
  images: Volume[],
  resample: (image: Volume, index: number) => Volume,
): Volume {
  const [nx, ny, nz] = grid.shape;
  const average = new Float32Array(nx * ny * nz);
  images.forEach((image, i) => {
    const moved = resample(image, i).data;
    for (let v = 0; v < average.length; v++) average[v] += moved[v] / images.length;
  });
  return createVolume(average, [nx, ny, nz], grid.affine, grid.xforms);
}
