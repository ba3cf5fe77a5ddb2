import { applyAffine, invertAffine, type Vec3 } from '../io/affine.js';
import type { Random } from '../runtime/random.js';
import { sampleIntensity, sampleSpatial, type AugmentConfig, type SpatialRecipe } from './augment.js';
import { intensityThenSpatialCrop, labelCrop, spatialThenIntensityCrop } from './crop-augment.js';
import { classLocations, headLocations } from './locations.js';
import type { Session, Subject } from './study.js';

/** Network input: channel-last [count, z, y, x, channels] memory with its sizes. */
export interface Batch {
  data: Float32Array;
  count: number;
  crop: Vec3;
  channels: number;
}

export interface PairBatch {
  /** Augmented sessions, timepoint A of every pair first, then B. */
  input: Batch;
  /** The same crops after the geometric transforms only (the reconstruction target). */
  target: Batch;
}

export interface LabelledBatch {
  input: Batch;
  labels: Int32Array;
}

/** Crop start per axis as the reference draws its centre: c ~ randint[crop/2, n − crop/2), crop from 0 when the axis is not larger. */
export function cropStart(shape: Vec3, crop: Vec3, random: Random): Vec3 {
  return shape.map((n, axis) =>
    n > crop[axis] ? random.integer(crop[axis] / 2, n - crop[axis] / 2 - 1) - crop[axis] / 2 : 0,
  ) as Vec3;
}

/**
 * The crop that holds voxel `voxel` of the original volume near its centre after the spatial
 * augmentation (flip, then the output → input affine), clamped to the volume.
 */
export function cropAround(shape: Vec3, crop: Vec3, voxel: Vec3, spatial: SpatialRecipe): Vec3 {
  const flipped: Vec3 = spatial.flip ? [shape[0] - 1 - voxel[0], voxel[1], voxel[2]] : voxel;
  const position = spatial.affine ? applyAffine(invertAffine(spatial.affine), flipped) : flipped;
  return shape.map((n, axis) =>
    n > crop[axis] ? Math.min(n - crop[axis], Math.max(0, Math.round(position[axis] - crop[axis] / 2))) : 0,
  ) as Vec3;
}

/** The centred crop (validation on crops). */
export function centredStart(shape: Vec3, crop: Vec3): Vec3 {
  return shape.map((n, axis) => Math.max(0, Math.floor((n - crop[axis]) / 2))) as Vec3;
}

/** Copies a crop of channel volumes into `out` channel-last at item `item`. */
export function packCrop(
  channels: ArrayLike<number>[],
  shape: Vec3,
  start: Vec3,
  crop: Vec3,
  out: Float32Array,
  item: number,
): void {
  const c = channels.length;
  let o = item * crop[0] * crop[1] * crop[2] * c;
  for (let z = 0; z < crop[2]; z++) {
    for (let y = 0; y < crop[1]; y++) {
      const row = start[0] + shape[0] * (start[1] + y + shape[1] * (start[2] + z));
      for (let x = 0; x < crop[0]; x++) for (let k = 0; k < c; k++) out[o++] = channels[k][row + x];
    }
  }
}

export interface SamplerOptions {
  crop: number;
  pairing: 'any' | 'adjacent';
  augment?: AugmentConfig;
  /** Share of labelled crops centred on a voxel of a foreground class drawn from those present (nnU-Net's oversample_foreground_percent). */
  oversampleForeground?: number;
  /** Centre crops on a voxel inside the head (a non-zero image voxel) instead of anywhere in the volume. */
  insideHead?: boolean;
  /** Label value → the value of the other side's structure, applied to labels of left-right flipped crops. */
  sideSwap?: Int32Array;
}

/** Random training batches; every random choice comes from the `random` passed in (a step's own generator in training). */
export class Sampler {
  readonly crop: Vec3;

  constructor(
    private readonly subjects: Subject[],
    private readonly options: SamplerOptions,
  ) {
    const smallest = [0, 1, 2].map((axis) =>
      Math.min(...subjects.flatMap((s) => s.sessions.map((x) => x.shape[axis]))),
    );
    this.crop = smallest.map((n) => Math.min(options.crop, n)) as Vec3;
  }

  /** Pairs of two sessions of one subject, identically augmented (geometry, then intensity) and cropped. */
  pairs(count: number, random: Random): PairBatch {
    const eligible = this.subjects.filter((s) => s.sessions.length >= 2);
    const channels = eligible[0].sessions[0].channels.length;
    const size = this.crop[0] * this.crop[1] * this.crop[2] * channels;
    const input = new Float32Array(2 * count * size);
    const target = new Float32Array(2 * count * size);
    for (let item = 0; item < count; item++) {
      const subject = eligible[random.integer(0, eligible.length - 1)];
      const [a, b] = this.pickPair(subject.sessions, random);
      const shape = a.shape;
      const spatial = this.options.augment ? sampleSpatial(random, this.options.augment, shape) : { flip: false };
      const intensity = this.options.augment ? sampleIntensity(random, this.options.augment) : {};
      const start = this.options.insideHead
        ? cropAround(shape, this.crop, pick(headLocations(a), shape, random), spatial)
        : cropStart(shape, this.crop, random);
      [a, b].forEach((session, t) => {
        const crops = session.channels.map((channel) =>
          spatialThenIntensityCrop(channel, shape, spatial, intensity, start, this.crop),
        );
        packCrop(
          crops.map((c) => c.target),
          this.crop,
          [0, 0, 0],
          this.crop,
          target,
          t * count + item,
        );
        packCrop(
          crops.map((c) => c.input),
          this.crop,
          [0, 0, 0],
          this.crop,
          input,
          t * count + item,
        );
      });
    }
    const batch = (data: Float32Array): Batch => ({ data, count: 2 * count, crop: this.crop, channels });
    return { input: batch(input), target: batch(target) };
  }

  /**
   * Labelled sessions, augmented intensity first, then geometry (labels nearest), as the reference's
   * single_seg. A share of the crops is centred on a foreground class drawn uniformly from those the
   * session holds, so that small structures are seen as often as large ones.
   */
  labelled(count: number, random: Random): LabelledBatch {
    const sessions = this.subjects.flatMap((s) => s.sessions.filter((x) => x.label));
    const channels = sessions[0].channels.length;
    const voxels = this.crop[0] * this.crop[1] * this.crop[2];
    const input = new Float32Array(count * voxels * channels);
    const labels = new Int32Array(count * voxels);
    for (let item = 0; item < count; item++) {
      const session = sessions[random.integer(0, sessions.length - 1)];
      const shape = session.shape;
      const intensity = this.options.augment ? sampleIntensity(random, this.options.augment) : {};
      const spatial = this.options.augment ? sampleSpatial(random, this.options.augment, shape) : { flip: false };
      const start = this.labelledCropStart(session, spatial, random);
      const images = session.channels.map((channel) =>
        intensityThenSpatialCrop(channel, shape, intensity, spatial, start, this.crop),
      );
      packCrop(images, this.crop, [0, 0, 0], this.crop, input, item);
      const label = labelCrop(session.label!, shape, spatial, start, this.crop);
      const swap = this.options.sideSwap;
      for (let i = 0; i < voxels; i++) labels[item * voxels + i] = spatial.flip && swap ? swap[label[i]] : label[i];
    }
    return { input: { data: input, count, crop: this.crop, channels }, labels };
  }

  private labelledCropStart(session: Session, spatial: SpatialRecipe, random: Random): Vec3 {
    const oversample = this.options.oversampleForeground ?? 0;
    // one draw per crop whatever the share, so that the sequence of draws does not depend on it
    const foreground = random.next() < oversample;
    const classes = foreground ? classLocations(session) : undefined;
    if (classes && classes.size > 0) {
      const locations = [...classes.values()][random.integer(0, classes.size - 1)];
      return cropAround(session.shape, this.crop, pick(locations, session.shape, random), spatial);
    }
    if (this.options.insideHead)
      return cropAround(session.shape, this.crop, pick(headLocations(session), session.shape, random), spatial);
    return cropStart(session.shape, this.crop, random);
  }

  private pickPair(sessions: Session[], random: Random): [Session, Session] {
    if (this.options.pairing === 'adjacent') {
      const first = random.integer(0, sessions.length - 2);
      const pair: [Session, Session] = [sessions[first], sessions[first + 1]];
      return random.next() < 0.5 ? pair : [pair[1], pair[0]];
    }
    const i = random.integer(0, sessions.length - 1);
    let j = random.integer(0, sessions.length - 2);
    if (j >= i) j += 1;
    return [sessions[i], sessions[j]];
  }
}

/** A random voxel of a list of voxel indices (x fastest), as (x, y, z). */
function pick(locations: Int32Array, shape: Vec3, random: Random): Vec3 {
  const index = locations[random.integer(0, locations.length - 1)];
  return [index % shape[0], Math.floor(index / shape[0]) % shape[1], Math.floor(index / (shape[0] * shape[1]))];
}
