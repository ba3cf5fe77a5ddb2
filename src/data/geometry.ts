import { identity4, type Mat4, type Vec3 } from '../io/affine.js';
import { resampleToGrid } from '../io/resample.js';
import { createVolume, type VoxelArray } from '../io/volume.js';

/** Resamples voxel data through a voxel-to-voxel map (output index → input index). */
export function resampleVoxels(
  data: VoxelArray,
  shape: Vec3,
  outputToInput: Mat4,
  interpolation: 'linear' | 'nearest',
  fill: number,
): VoxelArray {
  const source = createVolume(data, [...shape], identity4());
  return resampleToGrid(source, { ...source, affine: outputToInput }, interpolation, fill).data;
}

/** p_in = c + A·(p_out − c) + t, with c the centre voxel. */
export function aboutCentre(matrix: number[][], translation: Vec3, shape: Vec3): Mat4 {
  const centre = shape.map((n) => (n - 1) / 2);
  return [
    ...[0, 1, 2].map((i) => [
      ...matrix[i],
      centre[i] + translation[i] - matrix[i].reduce((sum, a, j) => sum + a * centre[j], 0),
    ]),
    [0, 0, 0, 1],
  ];
}

export function rotation([ax, ay, az]: number[]): number[][] {
  const [cx, sx, cy, sy, cz, sz] = [Math.cos(ax), Math.sin(ax), Math.cos(ay), Math.sin(ay), Math.cos(az), Math.sin(az)];
  const rx = [
    [1, 0, 0],
    [0, cx, -sx],
    [0, sx, cx],
  ];
  const ry = [
    [cy, 0, sy],
    [0, 1, 0],
    [-sy, 0, cy],
  ];
  const rz = [
    [cz, -sz, 0],
    [sz, cz, 0],
    [0, 0, 1],
  ];
  return multiply3(rz, multiply3(ry, rx));
}

export function multiply3(a: number[][], b: number[][]): number[][] {
  return a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
}
