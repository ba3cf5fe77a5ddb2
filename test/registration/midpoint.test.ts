import { applyAffine, multiply4, translation4, type Mat4, type Vec3 } from '../../src/io/affine.js';
import { createVolume } from '../../src/io/volume.js';
import { addMatches, midpointField } from '../../src/registration/midpoint.js';

/** A field on `grid` of p ↦ map(p), as the displacement map(p) − p. */
function fieldOf(shape: Vec3, affine: Mat4, map: (p: Vec3) => Vec3) {
  const voxels = shape[0] * shape[1] * shape[2];
  const data = new Float32Array(3 * voxels);
  for (let k = 0, n = 0; k < shape[2]; k++) {
    for (let j = 0; j < shape[1]; j++) {
      for (let i = 0; i < shape[0]; i++, n++) {
        const p = applyAffine(affine, [i, j, k]);
        const q = map(p);
        for (let c = 0; c < 3; c++) data[n + c * voxels] = q[c] - p[c];
      }
    }
  }
  return createVolume(data, [...shape, 3], affine);
}

describe('the midpoint of pairwise registrations', () => {
  test('sessions shifted by t_i (on top of their affines) meet at the mean shift: session i maps y ↦ A_i(y + t_i − mean t)', () => {
    const shape: Vec3 = [12, 10, 8];
    const grid = createVolume(new Float32Array(shape[0] * shape[1] * shape[2]), shape, [
      [2, 0, 0, -11],
      [0, 2, 0, -9],
      [0, 0, 2, -7],
      [0, 0, 0, 1],
    ]);
    const shifts: Vec3[] = [
      [1.5, -0.5, 0],
      [-0.6, 0.9, 0.3],
      [0.3, 0.2, -1.2],
    ];
    const affines: Mat4[] = [
      [
        [1.05, 0.02, 0, 3],
        [0, 0.97, 0.04, -2],
        [0.01, 0, 1.02, 1],
        [0, 0, 0, 1],
      ],
      multiply4(translation4([-4, 2, 5]), [
        [0.98, 0, 0.03, 0],
        [0.02, 1.01, 0, 0],
        [0, -0.02, 0.99, 0],
        [0, 0, 0, 1],
      ]),
      translation4([2, 2, -3]),
    ];
    const mean = [0, 1, 2].map((c) => shifts.reduce((sum, t) => sum + t[c], 0) / shifts.length);
    for (const i of [0, 1, 2]) {
      const matches = new Float32Array(3 * shape[0] * shape[1] * shape[2]);
      for (const j of [0, 1, 2]) {
        if (j === i) continue;
        // what a registrar returns for fixed = session i in template space, moving = session j's scan
        const offset = [0, 1, 2].map((c) => shifts[j][c] - shifts[i][c]);
        addMatches(
          matches,
          fieldOf(shape, grid.affine, (p) =>
            applyAffine(affines[j], [p[0] + offset[0], p[1] + offset[1], p[2] + offset[2]]),
          ),
          affines[j],
        );
      }
      const field = midpointField(matches, 3, grid, affines[i]);
      const expected = fieldOf(shape, grid.affine, (y) =>
        applyAffine(affines[i], [
          y[0] + shifts[i][0] - mean[0],
          y[1] + shifts[i][1] - mean[1],
          y[2] + shifts[i][2] - mean[2],
        ]),
      );
      // away from the border, where the inversion sees outside the field
      let worst = 0;
      const voxels = shape[0] * shape[1] * shape[2];
      for (let k = 2; k < shape[2] - 2; k++) {
        for (let j = 2; j < shape[1] - 2; j++) {
          for (let x = 2; x < shape[0] - 2; x++) {
            const n = x + shape[0] * (j + shape[1] * k);
            for (let c = 0; c < 3; c++)
              worst = Math.max(worst, Math.abs(field.data[n + c * voxels] - expected.data[n + c * voxels]));
          }
        }
      }
      expect(worst).toBeLessThan(1e-3);
    }
  });
});
