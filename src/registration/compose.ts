import { applyAffine, invertAffine, multiply4, type Mat4, type Vec3 } from '../io/affine.js';
import { resampleToGrid } from '../io/resample.js';
import { createVolume, type Grid, type Volume } from '../io/volume.js';

/** Elementwise mean of affine matrices (the average transform of the sessions; refined by the template iterations). */
export function meanAffine(matrices: Mat4[]): Mat4 {
  return matrices[0].map((row, i) => row.map((_, j) => matrices.reduce((sum, m) => sum + m[i][j], 0) / matrices.length));
}

/** `source` moved so that resampling it onto a grid reads it at transform(p) for every grid point p. */
function throughAffine<T extends Volume>(source: T, transform: Mat4): T {
  return { ...source, affine: multiply4(invertAffine(transform), source.affine) };
}

/** Resamples `source` onto `grid`, reading it at transform(p) (world mm, RAS) for every grid point p. */
export function resampleAffine(source: Volume, grid: Grid, transform: Mat4, interpolation: 'linear' | 'nearest' | 'label'): Volume {
  return resampleToGrid(throughAffine(source, transform), grid, interpolation);
}

/**
 * The displacement field on `grid` of "first `before` (an affine), then `field`": p ↦ q = before(p),
 * then q + u(q) with u interpolated trilinearly (outside the field, u is taken as 0).
 */
export function composeField(grid: Grid, before: Mat4, field: Volume): Volume {
  const [nx, ny, nz] = grid.shape;
  const voxels = nx * ny * nz;
  const out = new Float32Array(3 * voxels);
  const toField = invertAffine(field.affine);
  const frame = field.data.length / 3;
  const sampler = [0, 1, 2].map((c) => ({ shape: field.shape, data: field.data.subarray(c * frame, (c + 1) * frame) }));
  let n = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        const p = applyAffine(grid.affine, [i, j, k]);
        const q = applyAffine(before, p);
        const v = applyAffine(toField, q);
        const u = sampler.map((frame) => trilinear(frame, v));
        for (let c = 0; c < 3; c++) out[n + c * voxels] = q[c] + u[c] - p[c];
      }
    }
  }
  return createVolume(out, [nx, ny, nz, 3], grid.affine, grid.xforms);
}

function trilinear(volume: Pick<Volume, 'shape' | 'data'>, [x, y, z]: Vec3): number {
  const [sx, sy, sz] = volume.shape;
  if (!(x >= 0 && y >= 0 && z >= 0 && x <= sx - 1 && y <= sy - 1 && z <= sz - 1)) return 0;
  const x0 = Math.min(Math.floor(x), sx - 2 < 0 ? 0 : sx - 2);
  const y0 = Math.min(Math.floor(y), sy - 2 < 0 ? 0 : sy - 2);
  const z0 = Math.min(Math.floor(z), sz - 2 < 0 ? 0 : sz - 2);
  const [fx, fy, fz] = [x - x0, y - y0, z - z0];
  const d = volume.data;
  const at = (a: number, b: number, c: number) => d[Math.min(x0 + a, sx - 1) + sx * (Math.min(y0 + b, sy - 1) + sy * Math.min(z0 + c, sz - 1))];
  return (
    (1 - fz) * ((1 - fy) * ((1 - fx) * at(0, 0, 0) + fx * at(1, 0, 0)) + fy * ((1 - fx) * at(0, 1, 0) + fx * at(1, 1, 0))) +
    fz * ((1 - fy) * ((1 - fx) * at(0, 0, 1) + fx * at(1, 0, 1)) + fy * ((1 - fx) * at(0, 1, 1) + fx * at(1, 1, 1)))
  );
}
