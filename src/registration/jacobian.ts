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
  for (let k = 0, n = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, n++) {
        if (mask[n] === 0) continue;
        [position[0], position[1], position[2]] = [i, j, k];
        // d u_c / d index_a
        const gradient = [0, 1, 2].map((c) =>
          [0, 1, 2].map((a) => {
            const lower = position[a] > 0 ? n - stride[a] : n;
            const upper = position[a] < size[a] - 1 ? n + stride[a] : n;
            const span = (upper - lower) / stride[a];
            return span === 0 ? 0 : (field.data[upper + c * voxels] - field.data[lower + c * voxels]) / span;
          }),
        );
        // I + (du/dindex)·(dindex/dp)
        const jacobian = [0, 1, 2].map((r) =>
          [0, 1, 2].map((c) => (r === c ? 1 : 0) + [0, 1, 2].reduce((s, a) => s + gradient[r][a] * toVoxel[a][c], 0)),
        );
        const det = determinant3(jacobian);
        range.min = Math.min(range.min, det);
        range.max = Math.max(range.max, det);
        if (det <= 0) range.folded++;
        range.voxels++;
      }
  if (range.voxels > 0) range.folded /= range.voxels;
  return range;
}
