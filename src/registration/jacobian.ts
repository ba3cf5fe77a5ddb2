import { determinant3, invertAffine } from '../io/affine.js';
import type { Volume } from '../io/volume.js';

export interface JacobianRange {
  min: number;
  max: number;
  /** Share of the voxels counted whose determinant is ≤ 0: the map folds there. */
  folded: number;
  voxels: number;
}

/**
 * The Jacobian determinant of the map p ↦ p + u(p) of a displacement field (mm, world
 * coordinates, components in the 4th dimension), by central differences (one-sided at the border),
 * over the voxels where `mask` is nonzero.
 */
export function jacobianRange(field: Volume, mask: ArrayLike<number>): JacobianRange {
  const [nx, ny, nz] = field.shape;
  const voxels = nx * ny * nz;
  const toVoxel = invertAffine(field.affine);
  const size = [nx, ny, nz];
  const stride = [1, nx, nx * ny];
  const range: JacobianRange = { min: Infinity, max: -Infinity, folded: 0, voxels: 0 };
  const position = [0, 0, 0];
  // d u_c / d index_a, then the map's Jacobian I + (du/dindex)·(dindex/dp), reused for every voxel
  const gradient = [new Float64Array(3), new Float64Array(3), new Float64Array(3)];
  const jacobian = [new Float64Array(3), new Float64Array(3), new Float64Array(3)];
  for (let k = 0, n = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, n++) {
        if (mask[n] === 0) continue;
        [position[0], position[1], position[2]] = [i, j, k];
        for (let a = 0; a < 3; a++) {
          const lower = position[a] > 0 ? n - stride[a] : n;
          const upper = position[a] < size[a] - 1 ? n + stride[a] : n;
          const span = (upper - lower) / stride[a];
          for (let c = 0; c < 3; c++)
            gradient[c][a] = span === 0 ? 0 : (field.data[upper + c * voxels] - field.data[lower + c * voxels]) / span;
        }
        for (let r = 0; r < 3; r++)
          for (let c = 0; c < 3; c++)
            jacobian[r][c] =
              (r === c ? 1 : 0) +
              gradient[r][0] * toVoxel[0][c] +
              gradient[r][1] * toVoxel[1][c] +
              gradient[r][2] * toVoxel[2][c];
        const det = determinant3(jacobian);
        range.min = Math.min(range.min, det);
        range.max = Math.max(range.max, det);
        if (det <= 0) range.folded++;
        range.voxels++;
      }
  if (range.voxels > 0) range.folded /= range.voxels;
  return range;
}
