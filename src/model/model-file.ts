import { z } from 'zod';
import { DivergedError, InputError } from '../runtime/errors.js';
import { Random } from '../runtime/random.js';
import { loadUnetTensors, unetTensors } from './checkpoint.js';
import {
  describeNonFinite,
  nonFiniteTensors,
  readSafetensors,
  writeSafetensors,
  type NamedTensor,
} from './safetensors.js';
import { UNet } from './unet.js';

export const MODEL_FORMAT = 'longiseg-model-1';

/** Below this mean foreground validation Dice a model is said to have learned nothing. */
export const NO_LEARNING_DICE = 0.05;

/**
 * What inference needs to know besides the weights, stored in the file so that a user never
 * repeats training options: the architecture, the input channels (one BIDS suffix each, in
 * channel order), the intensity normalisation and the label names.
 */
export const modelInfoSchema = z.object({
  unet: z.object({
    inputChannels: z.number().int().positive(),
    outputClasses: z.number().int().min(2),
    baseWidth: z.number().int().positive(),
    depth: z.number().int().positive(),
  }),
  modalities: z.array(z.string().min(1)).min(1),
  /** Per volume: (x − min) / (P_upper − min), unclipped, as the reference code normalises. */
  normalisation: z.object({ kind: z.literal('min-percentile'), upperPercentile: z.number().gt(0).max(100) }),
  /** Label value → name (dseg.tsv); absent when the training data had no table. */
  labels: z.record(z.string(), z.string()).optional(),
  /** The crop the network was trained on; predict's default patch. */
  trainingCrop: z.array(z.number().int().positive()).length(3).optional(),
  /**
   * Label → the label of the same structure on the other side (Left-X ↔ Right-X), when training
   * flipped crops left-right with their sides' labels swapped: the network then names the sides of
   * what it sees, and a left-right mirrored window's labels (--tta) are swapped back with this.
   */
  mirroredLabels: z.array(z.number().int().min(0)).optional(),
  /**
   * Axes (closest-RAS voxel order) along which training flipped its crops: --tta mirrors these and no
   * others, as a network never shown an upside-down brain segments one poorly. Absent in files
   * written before it was recorded, whose training flipped left-right.
   */
  mirrorAxes: z.array(z.number().int().min(0).max(2)).optional(),
});

export type ModelInfo = z.infer<typeof modelInfoSchema>;

export interface SegmentationModel {
  unet: UNet;
  info: ModelInfo;
  /** Mean foreground validation Dice and its step, when training recorded them with the checkpoint. */
  validation?: { step: number; dice: number };
  /**
   * Classes whose largest connected region alone raised their validation Dice when training chose
   * the checkpoint: `predict` keeps only that region of them unless told otherwise.
   */
  keepLargest?: number[];
}

/** A segmentation model: the U-Net under the reference's tensor names, the ModelInfo as metadata. */
export async function saveModel(
  path: string,
  model: SegmentationModel,
  extra: { tensors?: Map<string, NamedTensor>; metadata?: Record<string, string> } = {},
): Promise<void> {
  const tensors = new Map([...(await unetTensors(model.unet)), ...(extra.tensors ?? [])]);
  refuseNonFinite(path, tensors);
  await writeSafetensors(path, tensors, { ...extra.metadata, format: MODEL_FORMAT, info: JSON.stringify(model.info) });
}

export async function loadModel(path: string): Promise<SegmentationModel> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== MODEL_FORMAT) {
    const what =
      metadata.format === 'longiseg-pretrain-1'
        ? 'is a pretraining checkpoint; finetune it first (longiseg finetune --pretrained …)'
        : `is not a longiseg model (metadata format ${JSON.stringify(metadata.format ?? null)}, expected ${MODEL_FORMAT})`;
    throw new InputError(path, what);
  }
  let info: ModelInfo;
  try {
    info = modelInfoSchema.parse(JSON.parse(metadata.info ?? ''));
  } catch (error) {
    throw new InputError(
      path,
      `has no valid model description in its metadata (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const broken = nonFiniteTensors(tensors);
  if (broken.length > 0)
    throw new InputError(
      path,
      `holds NaN or infinite weights (${describeNonFinite(broken)}): the training that wrote it diverged; use an earlier checkpoint`,
    );
  const unet = new UNet(info.unet, new Random(0));
  if (loadUnetTensors(unet, tensors, path, new Random(0)).reinitialisedHead) {
    throw new InputError(
      path,
      `its output layer does not have the ${info.unet.outputClasses} classes its metadata declares`,
    );
  }
  return {
    unet,
    info,
    validation: recorded(recordedValidationSchema, metadata.validation),
    keepLargest: recorded(recordedPostprocessingSchema, metadata.postprocessing)?.keep_largest,
  };
}

const recordedValidationSchema = z.object({ step: z.number(), dice: z.number() });
const recordedPostprocessingSchema = z.object({ keep_largest: z.array(z.number().int()) });

/** Optional metadata that training recorded; absent or unreadable (an older file) reads as undefined. */
function recorded<T>(schema: z.ZodType<T>, text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A checkpoint is written only when every value is finite, so that a diverged run never replaces a good file. */
export function refuseNonFinite(path: string, tensors: Map<string, NamedTensor>): void {
  const broken = nonFiniteTensors(tensors);
  if (broken.length > 0)
    throw new DivergedError(
      `training diverged: NaN or infinite values (${describeNonFinite(broken)}); ${path} was not written and keeps its last finite state`,
    );
}
