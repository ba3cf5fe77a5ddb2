import { applyAffine, identity4, multiply4, translation4, type Mat4, type Vec3 } from '../io/affine.js';
import { resampleVoxelMap } from '../io/resample.js';
import { createVolume, type VoxelArray } from '../io/volume.js';
import { applyIntensity, applySpatial, type IntensityRecipe, type SpatialRecipe } from './augment.js';
import { applyMotionInBox } from './motion.js';

/**
 * Augmented crops computed from the voxels the crop depends on only: the same values as augmenting
 * the whole volume and then cropping (applyIntensity, applySpatial), at the cost of the crop.
 * Two things differ in distribution only: the noise is drawn for the box that is read, and the fill
 * outside the volume is the minimum of that box. Motion, a k-space transform along whole lines,
 * augments the whole volume and splices the box's lines only.
 */

/** A box of voxels. */
interface Box {
  start: Vec3;
  size: Vec3;
}

/** Output voxel → input voxel of the flip and the affine transform (applySpatial's order). */
function outputToInput(spatial: SpatialRecipe, shape: Vec3): Mat4 {
  const flip: Mat4 = spatial.flip
    ? [
        [-1, 0, 0, shape[0] - 1],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]
    : identity4();
  return spatial.affine ? multiply4(flip, spatial.affine) : flip;
}

/** The input voxels that `map` sends `box` to, grown by `margin` per axis, within the volume. */
function readBox(map: Mat4, box: Box, shape: Vec3, margin: Vec3): Box {
  const low = [Infinity, Infinity, Infinity];
  const high = [-Infinity, -Infinity, -Infinity];
  for (const corner of [0, 1, 2, 3, 4, 5, 6, 7]) {
    const point = applyAffine(
      map,
      [0, 1, 2].map((axis) => box.start[axis] + ((corner >> axis) & 1) * (box.size[axis] - 1)) as Vec3,
    );
    for (let axis = 0; axis < 3; axis++) {
      low[axis] = Math.min(low[axis], point[axis]);
      high[axis] = Math.max(high[axis], point[axis]);
    }
  }
  const start = low.map((v, axis) => Math.min(shape[axis] - 1, Math.max(0, Math.floor(v) - 1 - margin[axis]))) as Vec3;
  const end = high.map((v, axis) =>
    Math.max(start[axis] + 1, Math.min(shape[axis], Math.ceil(v) + 2 + margin[axis])),
  ) as Vec3;
  return { start, size: end.map((e, axis) => e - start[axis]) as Vec3 };
}

function cut<T extends VoxelArray>(data: T, shape: Vec3, box: Box): T {
  const [nx, ny, nz] = box.size;
  const out = new (data.constructor as new (n: number) => T)(nx * ny * nz);
  for (let z = 0, o = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++, o += nx) {
      const row = box.start[0] + shape[0] * (box.start[1] + y + shape[1] * (box.start[2] + z));
      out.set(data.subarray(row, row + nx) as never, o);
    }
  }
  return out;
}

/** Resamples the crop box of the output through `map` (output voxel → voxel of the volume `source` was cut from at `sourceBox`). */
function resampleBox<T extends VoxelArray>(
  source: T,
  sourceBox: Box,
  map: Mat4,
  crop: Box,
  interpolation: 'linear' | 'nearest',
  fill: number,
): T {
  const voxelMap = multiply4(
    translation4(sourceBox.start.map((v) => -v) as Vec3),
    multiply4(map, translation4(crop.start)),
  );
  return resampleVoxelMap(
    createVolume(source, [...sourceBox.size], identity4()),
    crop.size,
    voxelMap,
    interpolation,
    fill,
  ) as T;
}

function minimum(data: ArrayLike<number>): number {
  let min = Infinity;
  for (let i = 0; i < data.length; i++) if (data[i] < min) min = data[i];
  return min;
}

const blurRadius = (recipe: IntensityRecipe): Vec3 =>
  recipe.blur ? (recipe.blur.map((sigma) => (sigma > 0 ? Math.floor(4 * sigma + 0.5) : 0)) as Vec3) : [0, 0, 0];

/** applySpatial(applyIntensity(image)) cropped at `start` (labelled crops: intensity first, then geometry). */
export function intensityThenSpatialCrop(
  image: Float32Array,
  shape: Vec3,
  intensity: IntensityRecipe,
  spatial: SpatialRecipe,
  start: Vec3,
  crop: Vec3,
): Float32Array {
  const box = { start, size: crop };
  const map = outputToInput(spatial, shape);
  if (intensity.motion) {
    // motion reads whole lines of an image augmented everywhere
    const source = readBox(map, box, shape, [0, 0, 0]);
    const augmented = applyMotionInBox(
      applyIntensity(image, shape, { ...intensity, motion: undefined }),
      shape,
      intensity.motion,
      source,
    );
    return resampleBox(augmented, source, map, box, 'linear', minimum(augmented));
  }
  const source = readBox(map, box, shape, blurRadius(intensity));
  const augmented = applyIntensity(cut(image, shape, source), source.size, intensity, {
    start: source.start,
    volume: shape,
  });
  return resampleBox(augmented, source, map, box, 'linear', minimum(augmented));
}

/** applySpatial(labels, 'label') cropped at `start`. */
export function labelCrop<T extends VoxelArray>(
  labels: T,
  shape: Vec3,
  spatial: SpatialRecipe,
  start: Vec3,
  crop: Vec3,
): T {
  const box = { start, size: crop };
  const map = outputToInput(spatial, shape);
  const source = readBox(map, box, shape, [0, 0, 0]);
  return resampleBox(cut(labels, shape, source), source, map, box, 'nearest', 0);
}

/**
 * Pair crops (geometry first, then intensity): `target` = applySpatial(image) and `input` =
 * applyIntensity(applySpatial(image)), both cropped at `start`.
 */
export function spatialThenIntensityCrop(
  image: Float32Array,
  shape: Vec3,
  spatial: SpatialRecipe,
  intensity: IntensityRecipe,
  start: Vec3,
  crop: Vec3,
): { target: Float32Array; input: Float32Array } {
  const box = { start, size: crop };
  if (intensity.motion) {
    const moved = applySpatial(image, shape, spatial, 'image');
    return {
      target: cut(moved, shape, box),
      input: applyMotionInBox(
        applyIntensity(moved, shape, { ...intensity, motion: undefined }),
        shape,
        intensity.motion,
        box,
      ),
    };
  }
  // the output box the blur reads, then the input box that one reads
  const radius = blurRadius(intensity);
  const lowOut = start.map((v, axis) => Math.max(0, v - radius[axis])) as Vec3;
  const grown: Box = {
    start: lowOut,
    size: start.map((v, axis) => Math.min(shape[axis], v + crop[axis] + radius[axis]) - lowOut[axis]) as Vec3,
  };
  const map = outputToInput(spatial, shape);
  const source = readBox(map, grown, shape, [0, 0, 0]);
  const region = cut(image, shape, source);
  const moved = resampleBox(region, source, map, grown, 'linear', spatial.affine ? minimum(image) : 0);
  const inner: Box = { start: start.map((v, axis) => v - lowOut[axis]) as Vec3, size: crop };
  const augmented = applyIntensity(moved, grown.size, intensity, { start: grown.start, volume: shape });
  return { target: cut(moved, grown.size, inner), input: cut(augmented, grown.size, inner) };
}
