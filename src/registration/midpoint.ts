import { applyAffine, identity4, invertAffine, type Mat4 } from '../io/affine.js';
import { createVolume, type Grid, type Volume } from '../io/volume.js';
import { invertField } from './invert-field.js';

/*
 * The unbiased midpoint of pairwise deformable registrations. Every session i, affinely aligned to
 * the template, is registered to every other session j; the template position of a point p of
 * session i is the mean of its matches in all sessions (p itself for j = i):
 * ψ_i(p) = p + mean_j w_ij(p), and session i's map from the template is y ↦ A_i ψ_i⁻¹(y). Neither a
 * session nor an average image is the reference: registering to the average of sessions whose
 * contrast inverts (infant GM/WM) warps every session towards a blur.
 */

/**
 * Adds to `sum` the matches in session j of the template grid's points, as displacements in
 * template coordinates: p ↦ A_j⁻¹(p + u(p)) − p, with `field` the registrar's field (p ↦ p + u(p),
 * a point of session j's scan) and A_j = `toSession` the session's affine map from the template.
 */
export function addMatches(sum: Float32Array, field: Volume, toSession: Mat4): void {
  const [nx, ny, nz] = field.shape;
  const voxels = nx * ny * nz;
  const fromSession = invertAffine(toSession);
  for (let k = 0, n = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        const p = applyAffine(field.affine, [i, j, k]);
        const match = applyAffine(fromSession, [
          p[0] + field.data[n],
          p[1] + field.data[n + voxels],
          p[2] + field.data[n + 2 * voxels],
        ]);
        for (let c = 0; c < 3; c++) sum[n + c * voxels] += match[c] - p[c];
      }
    }
  }
}

/** Session i's map from the template, y ↦ A_i ψ_i⁻¹(y), as a displacement field on `grid`; `sum` holds addMatches over the other sessions. */
export function midpointField(sum: Float32Array, sessions: number, grid: Grid, toSession: Mat4): Volume {
  const [nx, ny, nz] = grid.shape;
  const voxels = nx * ny * nz;
  const toMidpoint = createVolume(
    sum.map((value) => value / sessions),
    [nx, ny, nz, 3],
    grid.affine,
    grid.xforms,
  );
  const fromMidpoint = invertField(toMidpoint, identity4(), grid);
  const out = new Float32Array(3 * voxels);
  for (let k = 0, n = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        const y = applyAffine(grid.affine, [i, j, k]);
        const q = applyAffine(toSession, [
          y[0] + fromMidpoint.data[n],
          y[1] + fromMidpoint.data[n + voxels],
          y[2] + fromMidpoint.data[n + 2 * voxels],
        ]);
        for (let c = 0; c < 3; c++) out[n + c * voxels] = q[c] - y[c];
      }
    }
  }
  return createVolume(out, [nx, ny, nz, 3], grid.affine, grid.xforms);
}
