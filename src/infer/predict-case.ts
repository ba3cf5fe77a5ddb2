import { multiply4, translation4, type Vec3 } from '../io/affine.js';
import { readNifti, smallestLabelType, writeNifti } from '../io/nifti.js';
import { reorient, toClosestCanonical } from '../io/orientation.js';
import { createVolume, cropOrPad, sameGrid, spatialShape, type Volume } from '../io/volume.js';
import { FLIP_AXES } from '../data/augment.js';
import { normaliseMinPercentile } from '../data/intensity.js';
import type { ModelInfo } from '../model/model-file.js';
import { InputError } from '../runtime/errors.js';
import { argmaxLabels, softmaxInPlace } from '../engine/logits.js';
import { keepLargestComponents } from './largest-component.js';
import { slidingWindowLogits, type PatchPredictor } from './sliding-window.js';

/** One image to segment: its channel files in the model's channel order, and where results go. */
export interface PredictionCase {
  id: string;
  channels: string[];
  output: string;
  /** Where the class probabilities go (4D, one frame per class), when requested. */
  probabilities?: string;
}

export interface CaseOptions {
  patch: Vec3;
  overlap: number;
  /** Mirror test-time augmentation along the axes the model was trained to flip. */
  tta: boolean;
  /** Classes of which only the largest connected region is kept (the rest becomes background). */
  keepLargest?: number[];
  batch: number;
  /** Network calls in flight at once (with a PatchWorkers predictor). */
  concurrency?: number;
  signal?: AbortSignal;
  onPatch?: (done: number, total: number) => void;
  /** Replace NaN and infinite voxels with 0 instead of refusing the image. */
  nanToNum?: boolean;
  onWarning?: (message: string) => void;
}

/**
 * Reads, normalises and segments one case, then writes the label map (and probabilities) on the
 * input's exact grid. The network sees the image in closest-RAS voxel order, as in training,
 * zero-padded (symmetrically, as nnU-Net) to at least one patch.
 */
export async function predictCase(
  info: ModelInfo,
  predict: PatchPredictor,
  item: PredictionCase,
  options: CaseOptions,
): Promise<void> {
  const images = await readChannels(item, options);
  const original = images[0];
  const canonical = images.map((image) => toClosestCanonical(image));
  const inverse = canonical[0].inverse;
  const shape = spatialShape(canonical[0].volume);
  // a window larger than the image only adds padding: shrink it to the image (in network multiples)
  const multiple = 2 ** info.unet.depth;
  const patch = options.patch.map((size, axis) => Math.min(size, Math.ceil(shape[axis] / multiple) * multiple)) as Vec3;
  const padded: Vec3 = [0, 1, 2].map((axis) => Math.max(shape[axis], patch[axis])) as Vec3;
  const before: Vec3 = [0, 1, 2].map((axis) => Math.floor((padded[axis] - shape[axis]) / 2)) as Vec3;
  const channels = canonical.map(({ volume }) => {
    const normalised = createVolume(
      normaliseMinPercentile(volume.data, info.normalisation.upperPercentile),
      shape,
      volume.affine,
    );
    return cropOrPad(normalised, [-before[0], -before[1], -before[2]], padded).data;
  });
  const classes = info.unet.outputClasses;
  const logits = await slidingWindowLogits(
    { data: interleave(channels), shape: padded, channels: channels.length },
    predict,
    {
      patch,
      overlap: options.overlap,
      // the flips training saw; files from before mirrorAxes was recorded were trained with FLIP_AXES
      mirrorAxes: options.tta ? (info.mirrorAxes ?? FLIP_AXES) : [],
      batch: options.batch,
      concurrency: options.concurrency,
      classes,
      mirroredLabels: info.mirroredLabels,
      signal: options.signal,
      onPatch: options.onPatch,
    },
  );
  // the padded grid's voxel 0 is voxel −before of the image
  const paddedAffine = multiply4(canonical[0].volume.affine, translation4([-before[0], -before[1], -before[2]]));
  const backToInput = <T extends Volume>(volume: T) => reorient(cropOrPad(volume, before, shape), inverse).volume;

  const labels = backToInput(createVolume(argmaxLabels(logits, classes), padded, paddedAffine));
  if (options.keepLargest?.length) keepLargestComponents(labels.data, spatialShape(labels), options.keepLargest);
  if (item.probabilities) {
    const probabilities = classMajor(softmaxInPlace(logits, classes), classes);
    const volume = backToInput(createVolume(probabilities, [...padded, classes], paddedAffine));
    await writeNifti(
      item.probabilities,
      { ...original, shape: [...original.shape.slice(0, 3), classes], data: volume.data },
      { datatype: 'float32' },
    );
  }
  // the label map last: its presence marks the case as done (--continue)
  await writeNifti(item.output, { ...original, data: labels.data }, { datatype: smallestLabelType(labels.data) });
}

async function readChannels(
  item: PredictionCase,
  { nanToNum, onWarning }: Pick<CaseOptions, 'nanToNum' | 'onWarning'>,
): Promise<Volume[]> {
  const images: Volume[] = [];
  for (const file of item.channels) {
    const image = await readNifti(file, { kind: 'image', require3D: true, nanToNum, onWarning });
    if (images.length > 0 && !sameGrid(images[0], image)) {
      throw new InputError(
        file,
        `is not on the grid of ${item.channels[0]} (${image.shape.join('×')} vs ${images[0].shape.join('×')}); the channels of a case must be co-registered`,
      );
    }
    images.push(image);
  }
  return images;
}

/** Channel volumes → one channel-last array (the memory of a tensor [nz, ny, nx, channels]). */
function interleave(channels: Float32Array[]): Float32Array {
  const count = channels.length;
  if (count === 1) return channels[0];
  const out = new Float32Array(channels[0].length * count);
  channels.forEach((channel, c) => {
    for (let v = 0; v < channel.length; v++) out[v * count + c] = channel[v];
  });
  return out;
}

/** Channel-last values → one frame per class (NIfTI's 4D order). */
function classMajor(values: Float32Array, classes: number): Float32Array {
  const voxels = values.length / classes;
  const out = new Float32Array(values.length);
  for (let v = 0; v < voxels; v++) for (let k = 0; k < classes; k++) out[k * voxels + v] = values[v * classes + k];
  return out;
}
