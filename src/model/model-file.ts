import { z } from 'zod';
import { InputError } from '../runtime/errors.js';
import { Random } from '../runtime/random.js';
import { loadUnetTensors, unetTensors } from './checkpoint.js';
import { readSafetensors, writeSafetensors, type NamedTensor } from './safetensors.js';
import { UNet } from './unet.js';

export const MODEL_FORMAT = 'longiseg-model-1';

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
  /** Per volume: (x − min) / (P_upper − min), unclipped (../shared/spec/method.md §4.3). */
  normalisation: z.object({ kind: z.literal('min-percentile'), upperPercentile: z.number().gt(0).max(100) }),
  /** Label value → name (dseg.tsv); absent when the training data had no table. */
  labels: z.record(z.string(), z.string()).optional(),
  /** The crop the network was trained on; predict's default patch. */
  trainingCrop: z.array(z.number().int().positive()).length(3).optional(),
});

export type ModelInfo = z.infer<typeof modelInfoSchema>;

export interface SegmentationModel {
  unet: UNet;
  info: ModelInfo;
}

/** A segmentation model: the U-Net under the reference's tensor names, the ModelInfo as metadata. */
export async function saveModel(path: string, model: SegmentationModel, extra: { tensors?: Map<string, NamedTensor>; metadata?: Record<string, string> } = {}): Promise<void> {
  const tensors = new Map([...unetTensors(model.unet), ...(extra.tensors ?? [])]);
  await writeSafetensors(path, tensors, { ...extra.metadata, format: MODEL_FORMAT, info: JSON.stringify(model.info) });
}

export async function loadModel(path: string): Promise<SegmentationModel> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== MODEL_FORMAT) {
    const what = metadata.format === 'longiseg-pretrain-1' ? 'is a pretraining checkpoint; finetune it first (longiseg finetune --pretrained …)' : `is not a longiseg model (metadata format ${JSON.stringify(metadata.format ?? null)}, expected ${MODEL_FORMAT})`;
    throw new InputError(path, what);
  }
  let info: ModelInfo;
  try {
    info = modelInfoSchema.parse(JSON.parse(metadata.info ?? ''));
  } catch (error) {
    throw new InputError(path, `has no valid model description in its metadata (${(error as Error).message.split('\n')[0]})`);
  }
  const unet = new UNet(info.unet, new Random(0));
  if (loadUnetTensors(unet, tensors, path, new Random(0)).reinitialisedHead) {
    throw new InputError(path, `its output layer does not have the ${info.unet.outputClasses} classes its metadata declares`);
  }
  return { unet, info };
}
