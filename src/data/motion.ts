import type { Random } from '../runtime/random.js';
import { identity4, multiply4, translation4, type Vec3 } from '../io/affine.js';
import { resampleVoxelMap } from '../io/resample.js';
import { createVolume } from '../io/volume.js';
import { aboutCentre, rotation } from './geometry.js';

export interface MotionConfig {
  p: number;
  /** Rotation U(−degrees, degrees) per axis of each move. */
  degrees: number;
  /** Translation U(−translation, translation) voxels per axis of each move. */
  translation: number;
  transforms: number;
}

export interface MotionRecipe {
  moves: { angles: Vec3; translation: Vec3 }[];
  /** When each move happens, as fractions of the acquisition, ascending. */
  times: number[];
}

/** TorchIO's RandomMotion: moves at about k/(n+1) of the acquisition, ± a quarter of the spacing. */
export function sampleMotion(random: Random, config: MotionConfig): MotionRecipe {
  const step = 1 / (config.transforms + 1);
  const times = Array.from(
    { length: config.transforms },
    (_, k) => (k + 1) * step + random.uniform(-step / 4, step / 4),
  );
  const moves = times.map(() => ({
    angles: [0, 1, 2].map(() => (random.uniform(-config.degrees, config.degrees) * Math.PI) / 180) as Vec3,
    translation: [0, 1, 2].map(() => random.uniform(-config.translation, config.translation)) as Vec3,
  }));
  return { moves, times };
}

/**
 * k-space motion: the spectrum along the last axis is spliced from the still image and the moved
 * ones at the move times (fftshifted order; the still image fills the segment holding the k-space
 * centre), and the real part of the inverse transform is kept. The splicing masks depend only on the
 * last frequency axis, so the transforms along x and y cancel: a 1D DFT along z gives the same image
 * as TorchIO's 3D FFT.
 */
export function applyMotion(data: Float32Array, shape: Vec3, recipe: MotionRecipe): Float32Array {
  return applyMotionInBox(data, shape, recipe, { start: [0, 0, 0], size: shape });
}

/**
 * applyMotion(data) on the voxels of `box` only: each output line along z needs the whole line of
 * the still and moved images, so only the box's columns are moved and spliced.
 */
export function applyMotionInBox(
  data: Float32Array,
  shape: Vec3,
  recipe: MotionRecipe,
  box: { start: Vec3; size: Vec3 },
): Float32Array {
  let min = Infinity;
  for (const v of data) min = Math.min(min, v);
  const columns: Vec3 = [box.size[0], box.size[1], shape[2]];
  const toColumns = translation4([box.start[0], box.start[1], 0]);
  const volume = createVolume(data, [...shape], identity4());
  const still = resampleVoxelMap(volume, columns, toColumns, 'nearest') as Float32Array;
  const moved = recipe.moves.map(
    (move) =>
      resampleVoxelMap(
        volume,
        columns,
        multiply4(aboutCentre(rotation(move.angles), move.translation, shape), toColumns),
        'linear',
        min,
      ) as Float32Array,
  );
  const spliced = spliceSpectra([still, ...moved], columns, recipe.times);
  const plane = box.size[0] * box.size[1];
  return spliced.slice(box.start[2] * plane, (box.start[2] + box.size[2]) * plane);
}

/** Real part of the inverse transform of the spectra of `images` spliced along the last axis (see applyMotion). */
export function spliceSpectra(images: Float32Array[], shape: Vec3, times: number[]): Float32Array {
  const [nx, ny, nz] = shape;
  // shifted index q holds frequency (q − ⌊n/2⌋) mod n; segments [0, b1), [b1, b2), …
  const bounds = [0, ...times.map((t) => Math.floor(t * nz)), nz];
  const centre = Math.floor(nz / 2);
  const centreSegment = bounds.findIndex((b, s) => centre >= b && centre < bounds[s + 1]);
  const sourceOf = new Int32Array(nz);
  for (let s = 0, moved = 1; s < bounds.length - 1; s++) {
    const image = s === centreSegment ? 0 : moved++;
    for (let q = bounds[s]; q < bounds[s + 1]; q++) sourceOf[(q - centre + nz) % nz] = image;
  }
  const cos = Float64Array.from({ length: nz * nz }, (_, i) =>
    Math.cos((2 * Math.PI * Math.floor(i / nz) * (i % nz)) / nz),
  );
  const sin = Float64Array.from({ length: nz * nz }, (_, i) =>
    Math.sin((2 * Math.PI * Math.floor(i / nz) * (i % nz)) / nz),
  );
  const plane = nx * ny;
  const out = new Float32Array(images[0].length);
  const re = new Float64Array(nz);
  const im = new Float64Array(nz);
  for (let column = 0; column < plane; column++) {
    for (let k = 0; k < nz; k++) {
      const source = images[sourceOf[k]];
      let r = 0;
      let i = 0;
      for (let z = 0; z < nz; z++) {
        const v = source[column + z * plane];
        r += v * cos[k * nz + z];
        i -= v * sin[k * nz + z];
      }
      re[k] = r;
      im[k] = i;
    }
    for (let z = 0; z < nz; z++) {
      let r = 0;
      for (let k = 0; k < nz; k++) r += re[k] * cos[k * nz + z] - im[k] * sin[k * nz + z];
      out[column + z * plane] = r / nz;
    }
  }
  return out;
}
