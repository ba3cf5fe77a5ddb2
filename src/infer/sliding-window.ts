import type { Vec3 } from '../io/affine.js';
import { throwIfAborted } from '../runtime/errors.js';
import { gaussianImportance, tileOrigins } from './tiles.js';

/**
 * An image for the network: `data` channel-last with x fastest over the voxels,
 * index = c + channels·(x + nx·(y + ny·z)) — the memory of a tensor [nz, ny, nx, channels].
 */
export interface ChannelImage {
  data: Float32Array;
  shape: Vec3;
  channels: number;
}

/** Logits of `count` patches laid out [count, pz, py, px, classes] from inputs [count, pz, py, px, channels]. */
export type PatchPredictor = (
  patches: Float32Array,
  count: number,
  patch: Vec3,
) => Float32Array | Promise<Float32Array>;

export interface SlidingWindowOptions {
  patch: Vec3;
  /** Fraction of a patch shared by neighbouring tiles, in [0, 1). */
  overlap: number;
  /** Mirror test-time augmentation: the average over every combination of flips of these axes (0 x, 1 y, 2 z); none: []. */
  mirrorAxes: readonly number[];
  /** Patches per network call. */
  batch: number;
  /** Network calls in flight at once (a PatchWorkers pool answers them in parallel); default 1. */
  concurrency?: number;
  classes: number;
  /** Label → its other side's label, applied to windows mirrored along x (left-right in closest-RAS order). */
  mirroredLabels?: ArrayLike<number>;
  signal?: AbortSignal;
  onPatch?: (done: number, total: number) => void;
}

/** Every combination of flips of `axes`, the identity first, as [flipX, flipY, flipZ]. */
function mirrorings(axes: readonly number[]): [boolean, boolean, boolean][] {
  return Array.from(
    { length: 2 ** axes.length },
    (_, m) =>
      [0, 1, 2].map((axis) => axes.includes(axis) && (m & (1 << axes.indexOf(axis))) !== 0) as [
        boolean,
        boolean,
        boolean,
      ],
  );
}

/**
 * Whole-image logits by Gaussian-weighted sliding window (nnU-Net's scheme):
 * each tile's logits, averaged over the mirrorings of `mirrorAxes`, are weighted by the
 * importance map and summed, then divided by the summed weights. Only a batch of patches is ever
 * in the network at once; the accumulators are ordinary memory of the image's size.
 * The image must be at least one patch large along every axis. Returns logits channel-last.
 */
export async function slidingWindowLogits(
  image: ChannelImage,
  predict: PatchPredictor,
  options: SlidingWindowOptions,
): Promise<Float32Array> {
  const { patch, classes } = options;
  const channels = image.channels;
  const importance = gaussianImportance(patch);
  const origins = tileOrigins(image.shape, patch, options.overlap);
  const mirrors = mirrorings(options.mirrorAxes);
  const jobs = origins.flatMap((origin) => mirrors.map((mirror) => ({ origin, mirror })));
  const patchVoxels = patch[0] * patch[1] * patch[2];
  const voxels = image.shape[0] * image.shape[1] * image.shape[2];
  const sums = new Float32Array(voxels * classes);
  const weights = new Float32Array(voxels);
  const share = 1 / mirrors.length;
  const identity = Int32Array.from({ length: classes }, (_, k) => k);

  const batches = Array.from({ length: Math.ceil(jobs.length / options.batch) }, (_, b) =>
    jobs.slice(b * options.batch, (b + 1) * options.batch),
  );
  const launch = (batch: typeof jobs) => {
    const input = new Float32Array(batch.length * patchVoxels * channels);
    batch.forEach((job, b) =>
      copyPatch(image, job.origin, patch, job.mirror, input.subarray(b * patchVoxels * channels)),
    );
    const logits = Promise.resolve(predict(input, batch.length, patch));
    logits.catch(() => {}); // awaited in order below; this only keeps a later failure from going unhandled meanwhile
    return logits;
  };
  // up to `concurrency` batches run ahead; results are summed in job order, so the floating-point sums
  // (and so the labels) do not depend on which worker finished first
  const inFlight: Promise<Float32Array>[] = [];
  let launched = 0;
  let done = 0;
  for (let b = 0; b < batches.length; b++) {
    while (launched < batches.length && launched < b + (options.concurrency ?? 1)) {
      throwIfAborted(options.signal);
      inFlight[launched] = launch(batches[launched]);
      launched += 1;
    }
    // a network computed in this thread never yields: let signal handlers run between windows
    await new Promise((resolve) => setImmediate(resolve));
    const logits = await inFlight[b];
    delete inFlight[b];
    batches[b].forEach((job, k) => {
      const tile = logits.subarray(k * patchVoxels * classes, (k + 1) * patchVoxels * classes);
      const labelOf = job.mirror[0] && options.mirroredLabels ? options.mirroredLabels : identity;
      accumulate(sums, weights, image.shape, classes, tile, job.origin, patch, job.mirror, importance, share, labelOf);
    });
    done += batches[b].length;
    options.onPatch?.(done, jobs.length);
  }
  for (let v = 0; v < voxels; v++) {
    const inverse = 1 / weights[v];
    for (let k = 0; k < classes; k++) sums[v * classes + k] *= inverse;
  }
  return sums;
}

/** Walks a tile: calls visit(image voxel, patch voxel as the network sees it, unmirrored patch voxel). */
function walkTile(
  shape: Vec3,
  origin: Vec3,
  patch: Vec3,
  mirror: [boolean, boolean, boolean],
  visit: (voxel: number, seen: number, plain: number) => void,
): void {
  const at = (axis: number, i: number) => (mirror[axis] ? patch[axis] - 1 - i : i);
  let plain = 0;
  for (let z = 0; z < patch[2]; z++) {
    for (let y = 0; y < patch[1]; y++) {
      const row = origin[0] + shape[0] * (origin[1] + y + shape[1] * (origin[2] + z));
      const seenRow = patch[0] * (at(1, y) + patch[1] * at(2, z));
      for (let x = 0; x < patch[0]; x++, plain++) visit(row + x, seenRow + at(0, x), plain);
    }
  }
}

function copyPatch(
  image: ChannelImage,
  origin: Vec3,
  patch: Vec3,
  mirror: [boolean, boolean, boolean],
  out: Float32Array,
): void {
  const c = image.channels;
  walkTile(image.shape, origin, patch, mirror, (voxel, seen) => {
    for (let k = 0; k < c; k++) out[seen * c + k] = image.data[voxel * c + k];
  });
}

function accumulate(
  sums: Float32Array,
  weights: Float32Array,
  shape: Vec3,
  classes: number,
  logits: Float32Array,
  origin: Vec3,
  patch: Vec3,
  mirror: [boolean, boolean, boolean],
  importance: Float32Array,
  share: number,
  labelOf: ArrayLike<number>,
): void {
  walkTile(shape, origin, patch, mirror, (voxel, seen, plain) => {
    const weight = importance[plain] * share;
    weights[voxel] += weight;
    for (let k = 0; k < classes; k++) sums[voxel * classes + labelOf[k]] += weight * logits[seen * classes + k];
  });
}
