import * as tf from '@tensorflow/tfjs';
import type { BatchNormState } from '../engine/batch-norm.js';
import { readFloats } from '../engine/reads.js';
import { InputError } from '../runtime/errors.js';
import type { Random } from '../runtime/random.js';
import { convFromTorch, convToTorch, transpose2d } from './layout.js';
import type { NamedTensor } from './safetensors.js';
import type { UNet } from './unet.js';
import { unetModules, type UNetConfig } from './unet-layout.js';
import type { ProjectionHead } from './heads.js';

/** One tensor of a checkpoint: its name and PyTorch shape, and its data read only on demand. */
interface Entry {
  name: string;
  shape: number[];
  read: () => Promise<NamedTensor>;
}

/** The entries' data, read from the back end (a GPU's included) all at once. */
async function toMap(entries: Entry[]): Promise<Map<string, NamedTensor>> {
  return new Map(
    await Promise.all(entries.map(async (entry): Promise<[string, NamedTensor]> => [entry.name, await entry.read()])),
  );
}

/**
 * A U-Net's tensors under the reference's PyTorch names (model.{idx}.weight, .bias, .running_mean,
 * .running_var, .num_batches_tracked) and layouts, so that files move between longiseg and PyTorch.
 */
function unetEntries(unet: UNet): Entry[] {
  return unet.modules.flatMap((module, index): Entry[] => {
    if (module.kind === 'conv') {
      const weight = unet.weights.get(index)!;
      const [kz, ky, kx, cin, cout] = weight.shape;
      return [
        {
          name: `model.${index}.weight`,
          shape: [cout, cin, kx, ky, kz],
          read: async () => ({ dtype: 'F32', ...convToTorch(await readFloats(weight), weight.shape) }),
        },
      ];
    }
    return module.kind === 'bn' ? normEntries(`model.${index}`, unet.norms.get(index)!) : [];
  });
}

export function unetTensors(unet: UNet): Promise<Map<string, NamedTensor>> {
  return toMap(unetEntries(unet));
}

function normEntries(prefix: string, norm: BatchNormState): Entry[] {
  const vector = (name: string, v: tf.Variable): Entry => ({
    name,
    shape: v.shape,
    read: async () => ({ dtype: 'F32', shape: v.shape, data: await readFloats(v) }),
  });
  return [
    ...(norm.gamma && norm.beta ? [vector(`${prefix}.weight`, norm.gamma), vector(`${prefix}.bias`, norm.beta)] : []),
    vector(`${prefix}.running_mean`, norm.runningMean),
    vector(`${prefix}.running_var`, norm.runningVar),
    {
      name: `${prefix}.num_batches_tracked`,
      shape: [],
      read: async () => ({ dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(norm.batches)) }),
    },
  ];
}

function linearEntry(name: string, variable: tf.Variable): Entry {
  const [inputs, outputs] = variable.shape as [number, number];
  return {
    name,
    shape: [outputs, inputs],
    read: async () => ({ dtype: 'F32', ...transpose2d(await readFloats(variable), variable.shape) }),
  };
}

/** The U-Net size a checkpoint's tensors describe: the first convolution's shape and the number of modules. */
function architectureOf(
  tensors: Map<string, NamedTensor>,
): Pick<UNetConfig, 'baseWidth' | 'depth' | 'inputChannels'> | undefined {
  const first = tensors.get('model.0.weight');
  const last = Math.max(...[...tensors.keys()].map((name) => Number(/^model\.(\d+)\./.exec(name)?.[1] ?? -1)));
  if (!first || first.shape.length !== 5) return undefined;
  const [baseWidth, inputChannels] = first.shape;
  const depth = [1, 2, 3, 4, 5, 6].find(
    (d) => unetModules({ inputChannels, outputClasses: 2, baseWidth, depth: d }).length === last + 1,
  );
  return depth === undefined ? undefined : { baseWidth, depth, inputChannels };
}

export interface LoadReport {
  /** The output head was re-initialised because the number of classes differs. */
  reinitialisedHead: boolean;
}

/**
 * Loads U-Net tensors by name. Every mismatch (missing, unexpected, wrong shape) is listed in one
 * error; only the output head may differ (a new number of classes), and is then re-initialised, as
 * the reference does when it finetunes for another label set (or always, with `reinitialiseHead`).
 * The layers in `keepInitialised` (ids of convolutions and BatchNorms) keep the values they have.
 */
export function loadUnetTensors(
  unet: UNet,
  tensors: Map<string, NamedTensor>,
  source: string,
  random: Random,
  reinitialiseHead = false,
  keepInitialised: ReadonlySet<number> = new Set(),
): LoadReport {
  const expected = new Map(unetEntries(unet).map((entry) => [entry.name, entry.shape]));
  const headName = `model.${unet.modules.length - 1}.weight`;
  const problems: string[] = [];
  let reinitialisedHead = reinitialiseHead || keepInitialised.has(unet.modules.length - 1);
  for (const [name, want] of expected) {
    const got = tensors.get(name);
    if (!got) {
      problems.push(`missing ${name} ${JSON.stringify(want)}`);
    } else if (JSON.stringify(got.shape) !== JSON.stringify(want)) {
      if (name === headName && got.shape[1] === want[1]) reinitialisedHead = true;
      else
        problems.push(`${name}: shape ${JSON.stringify(got.shape)} in the file, ${JSON.stringify(want)} in the model`);
    }
  }
  const unexpected = [...tensors.keys()].filter((name) => name.startsWith('model.') && !expected.has(name));
  problems.push(...unexpected.map((name) => `unexpected ${name}`));
  if (problems.length > 0) {
    const file = architectureOf(tensors);
    const run = unet.config;
    if (
      file &&
      (file.baseWidth !== run.baseWidth || file.depth !== run.depth || file.inputChannels !== run.inputChannels)
    ) {
      const describe = (a: Pick<UNetConfig, 'baseWidth' | 'depth' | 'inputChannels'>) =>
        `base_width ${a.baseWidth}, depth ${a.depth}, ${a.inputChannels} input channel${a.inputChannels === 1 ? '' : 's'}`;
      throw new InputError(
        source,
        `is a U-Net of another size: the checkpoint has ${describe(file)}; this run has ${describe(run)} (set model.base_width, model.depth and modalities to the checkpoint's)`,
      );
    }
    const shown = problems.slice(0, 10);
    throw new InputError(
      source,
      `does not match the model:\n  ${shown.join('\n  ')}${problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : ''}`,
    );
  }

  unet.modules.forEach((module, index) => {
    if (keepInitialised.has(index)) return;
    if (module.kind === 'conv') {
      const name = `model.${index}.weight`;
      if (name === headName && reinitialisedHead) {
        const std = Math.sqrt(2 / (27 * module.inChannels));
        unet.weights
          .get(index)!
          .assign(tf.randomNormal(unet.weights.get(index)!.shape, 0, std, 'float32', random.uint32()));
        return;
      }
      const tensor = tensors.get(name)!;
      const { data, shape } = convFromTorch(tensor.data as Float32Array, tensor.shape);
      unet.weights.get(index)!.assign(tf.tensor(data, shape));
    } else if (module.kind === 'bn') {
      loadNorm(unet.norms.get(index)!, `model.${index}`, tensors);
    }
  });
  return { reinitialisedHead };
}

export function loadNorm(norm: BatchNormState, prefix: string, tensors: Map<string, NamedTensor>): void {
  const assign = (variable: tf.Variable | undefined, name: string) => {
    const tensor = tensors.get(name);
    if (variable && tensor) variable.assign(tf.tensor(Float32Array.from(tensor.data as Float32Array), variable.shape));
  };
  assign(norm.gamma, `${prefix}.weight`);
  assign(norm.beta, `${prefix}.bias`);
  assign(norm.runningMean, `${prefix}.running_mean`);
  assign(norm.runningVar, `${prefix}.running_var`);
  const batches = tensors.get(`${prefix}.num_batches_tracked`);
  if (batches) norm.batches = Number(batches.data[0]);
}

export function linearFromTorch(variable: tf.Variable, tensor: NamedTensor): void {
  const { data } = transpose2d(tensor.data as Float32Array, tensor.shape);
  variable.assign(tf.tensor(data, variable.shape));
}

/** A projection head's tensors under netF.mlp_{k}.{j} / netF.pred_{k}.{j} (PyTorch Sequential indices). */
function headEntries(head: ProjectionHead): Entry[] {
  const bias = head.predictor[1].bias!;
  return [
    ...[0, 3, 6].map((j, n) => linearEntry(`${head.name}.${j}.weight`, head.projector[n].weight)),
    ...[1, 4, 7].flatMap((j, n) => normEntries(`${head.name}.${j}`, head.projectorNorms[n])),
    linearEntry(`${head.predictorName}.0.weight`, head.predictor[0].weight),
    ...normEntries(`${head.predictorName}.1`, head.predictorNorm),
    linearEntry(`${head.predictorName}.3.weight`, head.predictor[1].weight),
    {
      name: `${head.predictorName}.3.bias`,
      shape: bias.shape,
      read: async () => ({ dtype: 'F32', shape: bias.shape, data: await readFloats(bias) }),
    },
  ];
}

export function headTensors(head: ProjectionHead): Promise<Map<string, NamedTensor>> {
  return toMap(headEntries(head));
}

export function loadHeadTensors(head: ProjectionHead, tensors: Map<string, NamedTensor>, source: string): void {
  const missing = headEntries(head)
    .map((entry) => entry.name)
    .filter((name) => !tensors.has(name));
  if (missing.length > 0) throw new InputError(source, `does not match the heads: missing ${missing.join(', ')}`);
  [0, 3, 6].forEach((j, n) => linearFromTorch(head.projector[n].weight, tensors.get(`${head.name}.${j}.weight`)!));
  [1, 4, 7].forEach((j, n) => loadNorm(head.projectorNorms[n], `${head.name}.${j}`, tensors));
  linearFromTorch(head.predictor[0].weight, tensors.get(`${head.predictorName}.0.weight`)!);
  loadNorm(head.predictorNorm, `${head.predictorName}.1`, tensors);
  linearFromTorch(head.predictor[1].weight, tensors.get(`${head.predictorName}.3.weight`)!);
  head.predictor[1].bias!.assign(
    tf.tensor(Float32Array.from(tensors.get(`${head.predictorName}.3.bias`)!.data as Float32Array)),
  );
}
