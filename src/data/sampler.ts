import type { Vec3 } from '../io/affine.js';
import type { Random } from '../runtime/random.js';
import { applyIntensity, applySpatial, sampleIntensity, sampleSpatial, type AugmentConfig } from './augment.js';
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
  return shape.map((n, axis) => (n > crop[axis] ? random.integer(crop[axis] / 2, n - crop[axis] / 2 - 1) - crop[axis] / 2 : 0)) as Vec3;
}

/** The centred crop (validation on crops). */
export function centredStart(shape: Vec3, crop: Vec3): Vec3 {
  return shape.map((n, axis) => Math.max(0, Math.floor((n - crop[axis]) / 2))) as Vec3;
}

/** Copies a crop of channel volumes into `out` channel-last at item `item`. */
export function packCrop(channels: ArrayLike<number>[], shape: Vec3, start: Vec3, crop: Vec3, out: Float32Array, item: number): void {
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
}

/** Random training batches; every random choice comes from the `random` passed in, so a resumed run continues the same sequence. */
export class Sampler {
  readonly crop: Vec3;

  constructor(
    private readonly subjects: Subject[],
    private readonly options: SamplerOptions,
  ) {
    const smallest = [0, 1, 2].map((axis) => Math.min(...subjects.flatMap((s) => s.sessions.map((x) => x.shape[axis]))));
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
      const start = cropStart(shape, this.crop, random);
      [a, b].forEach((session, t) => {
        const moved = session.channels.map((channel) => applySpatial(channel, shape, spatial, 'image'));
        packCrop(moved, shape, start, this.crop, target, t * count + item);
        packCrop(moved.map((channel) => applyIntensity(channel, shape, intensity)), shape, start, this.crop, input, t * count + item);
      });
    }
    const batch = (data: Float32Array): Batch => ({ data, count: 2 * count, crop: this.crop, channels });
    return { input: batch(input), target: batch(target) };
  }

  /** Labelled sessions, augmented intensity first, then geometry (labels nearest), as the reference's single_seg. */
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
      const start = cropStart(shape, this.crop, random);
      const images = session.channels.map((channel) => applySpatial(applyIntensity(channel, shape, intensity), shape, spatial, 'image'));
      packCrop(images, shape, start, this.crop, input, item);
      const label = Float32Array.from(applySpatial(session.label!, shape, spatial, 'label'));
      const packed = new Float32Array(voxels);
      packCrop([label], shape, start, this.crop, packed, 0);
      labels.set(packed, item * voxels);
    }
    return { input: { data: input, count, crop: this.crop, channels }, labels };
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
