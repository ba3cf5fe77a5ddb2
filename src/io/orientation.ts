import { multiply4, type Mat4, type Vec3 } from './affine.js';
import { createVolume, spatialShape, voxelCount, type Volume, type VoxelArray } from './volume.js';

/**
 * An axis permutation with flips: output axis k is input axis `axes[k]`, reversed where `flips[k]`.
 * This is nibabel's "ornt" read the other way round, enough to go to RAS and back.
 */
export interface Orientation {
  axes: Vec3;
  flips: [boolean, boolean, boolean];
}

/** Axis codes such as "RAS" or "LPI": the world direction each voxel axis increases towards. */
export function axisCodes(affine: Mat4): string {
  const { axes, flips } = closestCanonical(affine);
  const codes = ['', '', ''];
  axes.forEach((voxelAxis, worldAxis) => {
    codes[voxelAxis] = flips[worldAxis] ? 'LPI'[worldAxis] : 'RAS'[worldAxis];
  });
  return codes.join('');
}

/**
 * The permutation and flips that bring a volume closest to RAS+ (as nibabel.as_closest_canonical):
 * each world axis is given the voxel axis whose direction it dominates, largest components first.
 */
export function closestCanonical(affine: Mat4): Orientation {
  const used = new Set<number>();
  const worldUsed = new Set<number>();
  const axes: Vec3 = [0, 1, 2];
  const flips: [boolean, boolean, boolean] = [false, false, false];
  const columns = [0, 1, 2].map((c) => {
    const norm = Math.hypot(affine[0][c], affine[1][c], affine[2][c]) || 1;
    return [0, 1, 2].map((r) => affine[r][c] / norm);
  });
  for (let step = 0; step < 3; step++) {
    let best = { value: -1, voxel: 0, world: 0 };
    for (let voxel = 0; voxel < 3; voxel++) {
      if (used.has(voxel)) continue;
      for (let world = 0; world < 3; world++) {
        if (worldUsed.has(world)) continue;
        const value = Math.abs(columns[voxel][world]);
        if (value > best.value) best = { value, voxel, world };
      }
    }
    used.add(best.voxel);
    worldUsed.add(best.world);
    axes[best.world] = best.voxel;
    flips[best.world] = columns[best.voxel][best.world] < 0;
  }
  return { axes, flips };
}

/** Applies an orientation; returns the new volume and the orientation that undoes it. */
export function reorient<T extends VoxelArray>(
  volume: Volume<T>,
  orientation: Orientation,
): { volume: Volume<T>; inverse: Orientation } {
  const inShape = spatialShape(volume);
  const { axes, flips } = orientation;
  const outShape: Vec3 = [inShape[axes[0]], inShape[axes[1]], inShape[axes[2]]];
  const frames = volume.shape[3] ?? 1;
  const inStrides = [1, inShape[0], inShape[0] * inShape[1]];
  // Walking the output in order, each output axis steps through the input by ±stride of its source axis.
  const step = [0, 1, 2].map((k) => (flips[k] ? -1 : 1) * inStrides[axes[k]]);
  const origin = [0, 1, 2].reduce((sum, k) => sum + (flips[k] ? (outShape[k] - 1) * inStrides[axes[k]] : 0), 0);
  const Ctor = volume.data.constructor as new (n: number) => T;
  const frameSize = voxelCount(outShape);
  const out = new Ctor(frameSize * frames);
  let index = 0;
  for (let t = 0; t < frames; t++) {
    const frameOrigin = origin + t * frameSize;
    for (let k = 0; k < outShape[2]; k++) {
      for (let j = 0; j < outShape[1]; j++) {
        let source = frameOrigin + k * step[2] + j * step[1];
        for (let i = 0; i < outShape[0]; i++, source += step[0]) out[index++] = volume.data[source];
      }
    }
  }
  // Output voxel index v maps to input index u: u[axes[k]] = flips[k] ? n_k − 1 − v[k] : v[k].
  const outToIn: Mat4 = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  for (let k = 0; k < 3; k++) {
    outToIn[axes[k]][k] = flips[k] ? -1 : 1;
    outToIn[axes[k]][3] = flips[k] ? outShape[k] - 1 : 0;
  }
  const affine = multiply4(volume.affine, outToIn);
  const shape = volume.shape.length > 3 ? [...outShape, frames] : [...outShape];
  const inverseAxes: Vec3 = [0, 0, 0];
  const inverseFlips: [boolean, boolean, boolean] = [false, false, false];
  for (let k = 0; k < 3; k++) {
    inverseAxes[axes[k]] = k;
    inverseFlips[axes[k]] = flips[k];
  }
  return {
    volume: createVolume(out, shape, affine, volume.xforms),
    inverse: { axes: inverseAxes, flips: inverseFlips },
  };
}

/** Reorients to the closest canonical (RAS+) orientation; `inverse` brings a result back. */
export function toClosestCanonical<T extends VoxelArray>(
  volume: Volume<T>,
): { volume: Volume<T>; inverse: Orientation } {
  return reorient(volume, closestCanonical(volume.affine));
}
