import { describe, expect, test } from '@jest/globals';
import { applyAffine, type Mat4 } from '../../src/io/affine.js';
import { createVolume } from '../../src/io/volume.js';
import { jacobianRange } from '../../src/registration/jacobian.js';

/** A displacement field u(p) = M·p − p on a 2 mm grid with the axes permuted and one flipped. */
function linearField(m: number[][]) {
  const [nx, ny, nz] = [6, 5, 4];
  const affine: Mat4 = [
    [0, 0, -2, 30],
    [2, 0, 0, -10],
    [0, 2, 0, 5],
    [0, 0, 0, 1],
  ];
  const voxels = nx * ny * nz;
  const data = new Float32Array(3 * voxels);
  for (let k = 0, n = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, n++) {
        const p = applyAffine(affine, [i, j, k]);
        for (let c = 0; c < 3; c++) data[n + c * voxels] = m[c].reduce((s, v, a) => s + v * p[a], 0) - p[c];
      }
  return { field: createVolume(data, [nx, ny, nz, 3], affine), mask: new Uint8Array(voxels).fill(1) };
}

describe('jacobianRange', () => {
  test('a linear map has det(M) everywhere, borders included', () => {
    const m = [
      [1.1, 0.2, 0],
      [0, 0.9, 0.1],
      [0.05, 0, 1.2],
    ];
    const det = 1.1 * (0.9 * 1.2 - 0.1 * 0) - 0.2 * (0 * 1.2 - 0.1 * 0.05) + 0;
    const { field, mask } = linearField(m);
    const range = jacobianRange(field, mask);
    expect(range.min).toBeCloseTo(det, 4);
    expect(range.max).toBeCloseTo(det, 4);
    expect(range.folded).toBe(0);
    expect(range.voxels).toBe(120);
  });

  test('a reflection folds every voxel; the mask limits the voxels counted', () => {
    const { field, mask } = linearField([
      [-1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    mask.fill(0, 60);
    const range = jacobianRange(field, mask);
    expect(range.max).toBeCloseTo(-1, 4);
    expect(range.folded).toBe(1);
    expect(range.voxels).toBe(60);
  });
});
