import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, type BackendRequest } from '../../src/engine/backend.js';
import { ScalarReadings } from '../../src/engine/reads.js';
import { loadHeadTensors, loadUnetTensors } from '../../src/model/checkpoint.js';
import { ProjectionHead, ReconstructionHead } from '../../src/model/heads.js';
import { convFromTorch, transpose2d } from '../../src/model/layout.js';
import { loadModel, saveModel } from '../../src/model/model-file.js';
import { readSafetensors, type NamedTensor } from '../../src/model/safetensors.js';
import { UNet } from '../../src/model/unet.js';
import { pretrainObjective, REFERENCE_WEIGHTS } from '../../src/losses/pretrain.js';
import { consistencyLoss, diceCrossEntropy } from '../../src/losses/segmentation.js';
import { Random } from '../../src/runtime/random.js';
import { fixture, makeTempDir } from '../helpers.js';

/*
 * The U-Net, heads and losses against PyTorch, on one back end: fixtures from
 * test/reference/make_model_fixtures.py. Run on wasm (reference.test.ts) and on WebGPU (webgpu.test.ts).
 */

export const reference = JSON.parse(readFileSync(fixture('model', 'reference.json'), 'utf8'));
const { ngf, depth, input_channels, classes, width, bottleneck, taps } = reference.config;

/** max |got − want| / max |want|; values are read asynchronously (a GPU back end cannot read synchronously). */
export async function relativeError(got: tf.Tensor | Float32Array, want: NamedTensor | Float32Array): Promise<number> {
  const g = got instanceof Float32Array ? got : ((await got.data()) as Float32Array);
  const w = want instanceof Float32Array ? want : (want.data as Float32Array);
  expect(g.length).toBe(w.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < g.length; i++) {
    diff = Math.max(diff, Math.abs(g[i] - w[i]));
    scale = Math.max(scale, Math.abs(w[i]));
  }
  return diff / scale;
}

export const asTensor = (t: NamedTensor) => tf.tensor(Float32Array.from(t.data as Float32Array), t.shape);

export interface ReferenceModel {
  tensors: Map<string, NamedTensor>;
  unet: UNet;
  heads: ProjectionHead[];
  rec: ReconstructionHead;
  logits: tf.Tensor5D;
  features: Map<number, tf.Tensor5D>;
}

/** The fixture's U-Net and heads with PyTorch's weights and fresh BatchNorm statistics, after one training-mode forward of its input. */
export async function referenceModel(): Promise<ReferenceModel> {
  const { tensors } = await readSafetensors(fixture('model', 'reference.safetensors'));
  const random = new Random(1);
  const unet = new UNet({ inputChannels: input_channels, outputClasses: classes, baseWidth: ngf, depth }, random);
  expect(loadUnetTensors(unet, tensors, 'reference', random)).toEqual({ reinitialisedHead: false });
  // the file holds the running statistics after PyTorch's forward; start from fresh ones, as PyTorch did
  for (const norm of unet.norms.values()) {
    norm.runningMean.assign(tf.zerosLike(norm.runningMean));
    norm.runningVar.assign(tf.onesLike(norm.runningVar));
    norm.batches = 0;
  }
  const heads = taps.map((layer: number, k: number) => {
    const head = new ProjectionHead(
      unet.channelsOf(layer),
      { width, bottleneck },
      random,
      `netF.mlp_${k}`,
      `netF.pred_${k}`,
    );
    loadHeadTensors(head, tensors, 'reference');
    return head;
  });
  const rec = new ReconstructionHead(classes, input_channels, random);
  const recWeight = tensors.get('netRec.weight')!;
  rec.weight.assign(tf.tensor(convFromTorch(recWeight.data as Float32Array, recWeight.shape).data, rec.weight.shape));
  const { logits, features } = unet.forward(asTensor(tensors.get('expected.x')!) as tf.Tensor5D, {
    training: true,
    taps,
  });
  return { tensors, unet, heads, rec, logits, features };
}

export function describePyTorchChecks(backend: BackendRequest): void {
  describe(`the U-Net, heads and losses against PyTorch on ${backend}`, () => {
    let tensors: Map<string, NamedTensor>;
    let unet: UNet;
    let heads: ProjectionHead[];
    let rec: ReconstructionHead;
    let logits: tf.Tensor5D;
    let features: Map<number, tf.Tensor5D>;

    beforeAll(async () => {
      await initBackend(backend);
      ({ tensors, unet, heads, rec, logits, features } = await referenceModel());
    });

    test('logits and the nine tapped features match to 1e-4 relative', async () => {
      const errors = [
        await relativeError(logits, tensors.get('expected.logits')!),
        ...(await Promise.all(
          taps.map((layer: number) => relativeError(features.get(layer)!, tensors.get(`expected.feature_${layer}`)!)),
        )),
      ];
      expect(Math.max(...errors)).toBeLessThan(1e-4);
    });

    test('BatchNorm running statistics follow PyTorch (unbiased variance, momentum 0.1)', async () => {
      for (const index of [1, 32, 63]) {
        const norm = unet.norms.get(index)!;
        expect(await relativeError(norm.runningMean, tensors.get(`model.${index}.running_mean`)!)).toBeLessThan(1e-4);
        expect(await relativeError(norm.runningVar, tensors.get(`model.${index}.running_var`)!)).toBeLessThan(1e-4);
        expect(norm.batches).toBe(Number(tensors.get(`model.${index}.num_batches_tracked`)!.data[0]));
      }
    });

    test('every loss term and gradients of the pretraining objective match', async () => {
      const positions = taps.map((layer: number) => tensors.get(`expected.positions_${layer}`)!.data as Int32Array);
      const target = asTensor(tensors.get('expected.target')!) as tf.Tensor5D;
      const x = asTensor(tensors.get('expected.x')!) as tf.Tensor5D;
      const named = new Map<string, tf.Variable>([
        ['model.0.weight', unet.weights.get(0)!],
        ['model.31.weight', unet.weights.get(31)!],
        ['model.1.weight', unet.norms.get(1)!.gamma!],
        ['netF.mlp_0.0.weight', heads[0].projector[0].weight],
        ['netF.pred_8.3.bias', heads[8].predictor[1].bias!],
      ]);
      const readings = new ScalarReadings();
      const { grads } = tf.variableGrads(() => {
        const forward = unet.forward(x, { training: true, taps });
        const objective = pretrainObjective(
          {
            taps,
            features: forward.features,
            logits: forward.logits,
            target,
            heads,
            reconstructionHead: rec,
            positions,
            training: true,
          },
          REFERENCE_WEIGHTS,
        );
        for (const [name, value] of objective.terms) readings.record(name, value);
        // the fixture's gradients leave Lrec out (see make_model_fixtures.py); it is checked below
        return objective.total.sub(objective.terms.get('rec')!.mul(REFERENCE_WEIGHTS.reconstruction)) as tf.Scalar;
      }, [...named.values()]);
      const terms = await readings.readInto(new Map());
      const termErrors = Object.entries<number>(reference.losses)
        .filter(([name]) => name !== 'dice_ce' && name !== 'consistency')
        // similarity terms are means of cosines (scale 1) that sit near 0 at init: absolute error there
        .map(([name, want]) => [name, Math.abs(terms.get(name)! - want) / Math.max(1, Math.abs(want))] as const);
      expect(termErrors.filter(([, error]) => !(error < 1e-4))).toEqual([]);
      expect(termErrors).toHaveLength(20 - 2);
      const gradientErrors = await Promise.all(
        [...named].map(async ([name, variable]) => {
          const want = tensors.get(`expected.grad.${name}`)!;
          const got = (await grads[variable.name].data()) as Float32Array;
          if (want.shape.length === 5)
            return [name, await relativeError(got, convFromTorch(want.data as Float32Array, want.shape).data)] as const;
          if (want.shape.length === 2)
            return [name, await relativeError(transpose2d(got, [want.shape[1], want.shape[0]]).data, want)] as const;
          return [name, await relativeError(got, want)] as const;
        }),
      );
      expect(gradientErrors.filter(([, error]) => !(error < 1e-3))).toEqual([]);
      const { grads: recGrads } = tf.variableGrads(
        () =>
          rec
            .apply(unet.forward(x, { training: true }).logits)
            .sub(target)
            .square()
            .mean() as tf.Scalar,
        [unet.weights.get(65)!],
      );
      const wantHead = tensors.get('expected.grad_rec.model.65.weight')!;
      expect(
        await relativeError(
          recGrads[unet.weights.get(65)!.name],
          convFromTorch(wantHead.data as Float32Array, wantHead.shape).data,
        ),
      ).toBeLessThan(1e-3);
    });

    test('Dice+CE and the consistency loss match MONAI as the reference uses it', async () => {
      const labels = asTensor(tensors.get('expected.labels')!);
      expect(Math.abs((await diceCrossEntropy(logits, labels).data())[0] - reference.losses.dice_ce)).toBeLessThan(
        1e-4,
      );
      expect(Math.abs((await consistencyLoss(logits).data())[0] - reference.losses.consistency)).toBeLessThan(1e-4);
    });

    test('evaluation mode (running statistics) matches PyTorch, through a longiseg model file', async () => {
      const dir = makeTempDir();
      try {
        const trained = new UNet(unet.config, new Random(5));
        loadUnetTensors(trained, tensors, 'reference', new Random(0)); // running statistics as PyTorch left them
        const info = {
          unet: unet.config,
          modalities: ['T1w'],
          normalisation: { kind: 'min-percentile' as const, upperPercentile: 99.99 },
        };
        await saveModel(join(dir.path, 'model.safetensors'), { unet: trained, info });
        const loaded = await loadModel(join(dir.path, 'model.safetensors'));
        expect(loaded.info).toEqual(info);
        const before = tf.memory().numTensors;
        const logits = tf.tidy(
          () => loaded.unet.forward(asTensor(tensors.get('expected.x')!) as tf.Tensor5D, { training: false }).logits,
        );
        expect(await relativeError(logits, tensors.get('expected.eval_logits')!)).toBeLessThan(1e-4);
        logits.dispose();
        expect(tf.memory().numTensors).toBe(before); // inference frees every activation
      } finally {
        dir.remove();
      }
    });
  });
}
