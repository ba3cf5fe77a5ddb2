import * as tf from '@tensorflow/tfjs';
import { readFloats } from '../engine/reads.js';
import { InputError } from '../runtime/errors.js';
import type { Adam } from './adam.js';
import { convFromTorch, convToTorch } from '../model/layout.js';
import { headTensors, loadHeadTensors, loadUnetTensors, unetTensors } from '../model/checkpoint.js';
import type { PretrainModel } from './pretrain-model.js';
import { refuseNonFinite } from '../model/model-file.js';
import { readSafetensors, writeSafetensors, type NamedTensor } from '../model/safetensors.js';
import type { Random } from '../runtime/random.js';

export const PRETRAIN_FORMAT = 'longiseg-pretrain-1';

/** Adam's moments as optimizer.m.i / optimizer.v.i (in the order of its variables), its settings and step count as metadata. */
export async function optimizerTensors(
  optimizer: Adam,
): Promise<{ tensors: Map<string, NamedTensor>; metadata: Record<string, string> }> {
  const state = await optimizer.state();
  const tensors = new Map<string, NamedTensor>();
  state.first.forEach((m, i) => tensors.set(`optimizer.m.${i}`, { dtype: 'F32', shape: [m.length], data: m }));
  state.second.forEach((v, i) => tensors.set(`optimizer.v.${i}`, { dtype: 'F32', shape: [v.length], data: v }));
  return { tensors, metadata: { optimizer: JSON.stringify({ steps: state.steps, ...optimizer.options }) } };
}

export function restoreOptimizer(
  optimizer: Adam,
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string>,
  path: string,
): void {
  if (!metadata.optimizer)
    throw new InputError(path, 'holds no optimizer state (it is not a checkpoint to resume from)');
  const sizes = optimizer.variables.map((v) => v.size);
  const moment = (kind: 'm' | 'v', i: number) => {
    const tensor = tensors.get(`optimizer.${kind}.${i}`);
    if (!tensor || tensor.data.length !== sizes[i])
      throw new InputError(
        path,
        `optimizer.${kind}.${i} is missing or does not match the model's variable ${i} (${sizes[i]} values)`,
      );
    return tensor.data as Float32Array;
  };
  const { steps, ...options } = JSON.parse(metadata.optimizer) as { steps: number } & Adam['options'];
  optimizer.options = options;
  optimizer.restore({ steps, first: sizes.map((_, i) => moment('m', i)), second: sizes.map((_, i) => moment('v', i)) });
}

/**
 * A pretraining checkpoint in one safetensors file: the U-Net under the reference's names
 * (model.*), the heads (netF.*), netRec, Adam's moments and, in the metadata, the run's config and
 * whatever `extra` the caller adds (the training loop's state).
 */
export async function saveTrainingCheckpoint(
  path: string,
  model: PretrainModel,
  optimizer: Adam,
  config: Record<string, unknown>,
  extra: Record<string, string> = {},
): Promise<void> {
  const heads = await Promise.all(model.heads.map(headTensors));
  const tensors = new Map<string, NamedTensor>([
    ...(await unetTensors(model.unet)),
    ...heads.flatMap((head) => [...head]),
  ]);
  const rec = model.reconstruction.weight;
  tensors.set('netRec.weight', { dtype: 'F32', ...convToTorch(await readFloats(rec), rec.shape) });
  const adam = await optimizerTensors(optimizer);
  const all = new Map([...tensors, ...adam.tensors]);
  refuseNonFinite(path, all);
  await writeSafetensors(path, all, {
    ...extra,
    ...adam.metadata,
    format: PRETRAIN_FORMAT,
    config: JSON.stringify(config),
  });
}

/** Restores a model and its optimiser from saveTrainingCheckpoint's file; returns the stored config and metadata. */
export async function loadTrainingCheckpoint(
  path: string,
  model: PretrainModel,
  optimizer: Adam,
  random: Random,
): Promise<{ metadata: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== PRETRAIN_FORMAT)
    throw new InputError(
      path,
      `is not a longiseg pretraining checkpoint (no ${PRETRAIN_FORMAT} format in its metadata)`,
    );
  loadUnetTensors(model.unet, tensors, path, random);
  model.heads.forEach((head) => loadHeadTensors(head, tensors, path));
  const rec = tensors.get('netRec.weight');
  if (!rec) throw new InputError(path, 'has no netRec.weight');
  model.reconstruction.weight.assign(
    tf.tensor(convFromTorch(rec.data as Float32Array, rec.shape).data, model.reconstruction.weight.shape),
  );
  restoreOptimizer(optimizer, tensors, metadata, path);
  return { metadata };
}
