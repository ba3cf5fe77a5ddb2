import { applyAffine, invertAffine, linearPart, type Mat4, type Vec3 } from '../io/affine.js';
import { VoxelSampler } from '../io/resample.js';
import { createVolume, type Grid, type Volume } from '../io/volume.js';

/**
 * The inverse of a subject → native map T(x) = x + u(x), u a displacement field on the subject grid,
 * as a displacement field on a native grid: y ↦ x with T(x) = y. Newton iterations with the Jacobian
 * of the affine part `affine`; outside the field T is the affine alone.
 */
export function invertField(field: Volume, affine: Mat4, target: Grid): Volume {
  const sampler = new VoxelSampler(field, 'linear', Number.NaN);
  const toVoxel = invertAffine(field.affine);
  const inverse = invertAffine(affine);
  const linearInverse = linearPart(inverse);
  const u = new Float32Array(3);
  const forward = (x: Vec3): Vec3 => {
    const p = applyAffine(toVoxel, x);
    sampler.sample(p[0], p[1], p[2], u, 0, 1);
    return Number.isNaN(u[0]) ? applyAffine(affine, x) : [x[0] + u[0], x[1] + u[1], x[2] + u[2]];
  };
  const [nx, ny, nz] = target.shape;
  const voxels = nx * ny * nz;
  const out = new Float32Array(3 * voxels);
  for (let k = 0, n = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        const y = applyAffine(target.affine, [i, j, k]);
        let x = applyAffine(inverse, y);
        for (let iteration = 0; iteration < 30; iteration++) {
          const t = forward(x);
          const step = applyAffine(linearInverse, [y[0] - t[0], y[1] - t[1], y[2] - t[2]]);
          x = [x[0] + step[0], x[1] + step[1], x[2] + step[2]];
          if (Math.abs(step[0]) + Math.abs(step[1]) + Math.abs(step[2]) < 1e-4) break;
        }
        for (let c = 0; c < 3; c++) out[n + c * voxels] = x[c] - y[c];
      }
    }
  }
  return createVolume(out, [nx, ny, nz, 3], target.affine, target.xforms);
}
