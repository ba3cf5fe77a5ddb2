import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.js';
import { conv3dReflect, conv3dReflectStock, setColumnBytesCap } from '../../src/engine/conv3d.js';
import { headTensors, loadHeadTensors, loadUnetTensors, unetTensors } from '../../src/model/checkpoint.js';
import { ProjectionHead, ReconstructionHead } from '../../src/model/heads.js';
import { convFromTorch, transpose2d } from '../../src/model/layout.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors, type NamedTensor } from '../../src/model/safetensors.js';
import { UNet } from '../../src/model/unet.js';
import { decoderLayers, unetModules } from '../../src/model/unet-layout.js';
import { pretrainObjective, REFERENCE_WEIGHTS } from '../../src/losses/pretrain.js';
import { consistencyLoss, diceCrossEntropy } from '../../src/losses/segmentation.js';
import { Random } from '../../src/runtime/random.js';
import { InputError } from '../../src/runtime/errors.js';
import { join } from 'node:path';
import { loadModel, saveModel } from '../../src/model/model-file.js';
import { fixture, makeTempDir } from '../helpers.js';

const reference = JSON.parse(readFileSync(fixture('model', 'reference.json'), 'utf8'));
const { ngf, depth, input_channels, classes, width, bottleneck, taps } = reference.config;

function relativeError(got: tf.Tensor | Float32Array, want: NamedTensor | Float32Array): number {
  const g = got instanceof Float32Array ? got : (got.dataSync() as Float32Array);
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

const asTensor = (t: NamedTensor) => tf.tensor(Float32Array.from(t.data as Float32Array), t.shape);

describe('the U-Net and heads against PyTorch (fixtures from test/reference/make_model_fixtures.py)', () => {
  let tensors: Map<string, NamedTensor>;
  let unet: UNet;
  let heads: ProjectionHead[];
  let rec: ReconstructionHead;
  let logits: tf.Tensor5D;
  let features: Map<number, tf.Tensor5D>;

  beforeAll(async () => {
    await initBackend('wasm');
    ({ tensors } = await readSafetensors(fixture('model', 'reference.safetensors')));
    const random = new Random(1);
    unet = new UNet({ inputChannels: input_channels, outputClasses: classes, baseWidth: ngf, depth }, random);
    expect(loadUnetTensors(unet, tensors, 'reference', random)).toEqual({ reinitialisedHead: false });
    // the file holds the running statistics after PyTorch's forward; start from fresh ones, as PyTorch did
    for (const norm of unet.norms.values()) {
      norm.runningMean.assign(tf.zerosLike(norm.runningMean));
      norm.runningVar.assign(tf.onesLike(norm.runningVar));
      norm.batches = 0;
    }
    heads = taps.map((layer: number, k: number) => {
      const head = new ProjectionHead(unet.channelsOf(layer), { width, bottleneck }, random, `netF.mlp_${k}`, `netF.pred_${k}`);
      loadHeadTensors(head, tensors, 'reference');
      return head;
    });
    rec = new ReconstructionHead(classes, input_channels, random);
    const recWeight = tensors.get('netRec.weight')!;
    rec.weight.assign(tf.tensor(convFromTorch(recWeight.data as Float32Array, recWeight.shape).data, rec.weight.shape));
    ({ logits, features } = unet.forward(asTensor(tensors.get('expected.x')!) as tf.Tensor5D, { training: true, taps }));
  });

  test('the full-size model has the reference parameter count (66 modules, 5,906,688 parameters)', () => {
    const full = new UNet({ inputChannels: 1, outputClasses: 33, baseWidth: 16, depth: 4 }, new Random(0));
    expect(full.modules).toHaveLength(66);
    expect(full.parameterCount()).toBe(5_906_688);
    expect(taps.map((layer: number) => full.channelsOf(layer))).toEqual([16, 32, 64, 128, 128, 256, 128, 64, 32]);
  });

  test('logits and the nine tapped features match to 1e-4 relative', () => {
    const errors = [relativeError(logits, tensors.get('expected.logits')!), ...taps.map((layer: number) => relativeError(features.get(layer)!, tensors.get(`expected.feature_${layer}`)!))];
    expect(Math.max(...errors)).toBeLessThan(1e-4);
  });

  test('BatchNorm running statistics follow PyTorch (unbiased variance, momentum 0.1)', () => {
    for (const index of [1, 32, 63]) {
      const norm = unet.norms.get(index)!;
      expect(relativeError(norm.runningMean, tensors.get(`model.${index}.running_mean`)!)).toBeLessThan(1e-4);
      expect(relativeError(norm.runningVar, tensors.get(`model.${index}.running_var`)!)).toBeLessThan(1e-4);
      expect(norm.batches).toBe(Number(tensors.get(`model.${index}.num_batches_tracked`)!.data[0]));
    }
  });

  test('every loss term and gradients of the pretraining objective match', () => {
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
    const terms = new Map<string, number>();
    const { grads } = tf.variableGrads(() => {
      const forward = unet.forward(x, { training: true, taps });
      const objective = pretrainObjective(
        { taps, features: forward.features, logits: forward.logits, target, heads, reconstructionHead: rec, positions, training: true },
        REFERENCE_WEIGHTS,
      );
      for (const [name, value] of objective.terms) terms.set(name, value.dataSync()[0]);
      // the fixture's gradients leave Lrec out (see make_model_fixtures.py); it is checked below
      return objective.total.sub(objective.terms.get('rec')!.mul(REFERENCE_WEIGHTS.reconstruction)) as tf.Scalar;
    }, [...named.values()]);
    const termErrors = Object.entries<number>(reference.losses)
      .filter(([name]) => name !== 'dice_ce' && name !== 'consistency')
      // similarity terms are means of cosines (scale 1) that sit near 0 at init: absolute error there
      .map(([name, want]) => [name, Math.abs(terms.get(name)! - want) / Math.max(1, Math.abs(want))] as const);
    expect(termErrors.filter(([, error]) => !(error < 1e-4))).toEqual([]);
    expect(termErrors).toHaveLength(20 - 2);
    const gradientErrors = [...named].map(([name, variable]) => {
      const want = tensors.get(`expected.grad.${name}`)!;
      const got = grads[variable.name].dataSync() as Float32Array;
      if (want.shape.length === 5) return [name, relativeError(got, convFromTorch(want.data as Float32Array, want.shape).data)] as const;
      if (want.shape.length === 2) return [name, relativeError(transpose2d(got, [want.shape[1], want.shape[0]]).data, want)] as const;
      return [name, relativeError(got, want)] as const;
    });
    expect(gradientErrors.filter(([, error]) => !(error < 1e-3))).toEqual([]);
    const { grads: recGrads } = tf.variableGrads(
      () => rec.apply(unet.forward(x, { training: true }).logits).sub(target).square().mean() as tf.Scalar,
      [unet.weights.get(65)!],
    );
    const wantHead = tensors.get('expected.grad_rec.model.65.weight')!;
    expect(relativeError(recGrads[unet.weights.get(65)!.name].dataSync() as Float32Array, convFromTorch(wantHead.data as Float32Array, wantHead.shape).data)).toBeLessThan(1e-3);
  });

  test('Dice+CE and the consistency loss match MONAI as the reference uses it', () => {
    const labels = asTensor(tensors.get('expected.labels')!);
    expect(Math.abs(diceCrossEntropy(logits, labels).dataSync()[0] - reference.losses.dice_ce)).toBeLessThan(1e-4);
    expect(Math.abs(consistencyLoss(logits).dataSync()[0] - reference.losses.consistency)).toBeLessThan(1e-4);
  });

  test('a checkpoint round trip through safetensors gives identical outputs', () => {
    const bytes = encodeSafetensors(new Map([...unetTensors(unet), ...headTensors(heads[0])]), { config: JSON.stringify(reference.config) });
    const { tensors: back, metadata } = decodeSafetensors(bytes, 'memory');
    expect(JSON.parse(metadata.config)).toEqual(reference.config);
    const copy = new UNet(unet.config, new Random(99));
    loadUnetTensors(copy, back, 'memory', new Random(0));
    const x = asTensor(tensors.get('expected.x')!) as tf.Tensor5D;
    const a = unet.forward(x, { training: false }).logits.dataSync();
    const b = copy.forward(x, { training: false }).logits.dataSync();
    expect(relativeError(b as Float32Array, a as Float32Array)).toBe(0);
  });

  test('evaluation mode (running statistics) matches PyTorch, through a longiseg model file', async () => {
    const dir = makeTempDir();
    try {
      const trained = new UNet(unet.config, new Random(5));
      loadUnetTensors(trained, tensors, 'reference', new Random(0)); // running statistics as PyTorch left them
      const info = { unet: unet.config, modalities: ['T1w'], normalisation: { kind: 'min-percentile' as const, upperPercentile: 99.99 } };
      await saveModel(join(dir.path, 'model.safetensors'), { unet: trained, info });
      const loaded = await loadModel(join(dir.path, 'model.safetensors'));
      expect(loaded.info).toEqual(info);
      const before = tf.memory().numTensors;
      const logits = tf.tidy(() => loaded.unet.forward(asTensor(tensors.get('expected.x')!) as tf.Tensor5D, { training: false }).logits);
      expect(relativeError(logits, tensors.get('expected.eval_logits')!)).toBeLessThan(1e-4);
      logits.dispose();
      expect(tf.memory().numTensors).toBe(before); // inference frees every activation
    } finally {
      dir.remove();
    }
  });

  test('a checkpoint that does not fit: another size is named in one line, other mismatches listed; only the output head may differ', () => {
    const moreClasses = new UNet({ ...unet.config, outputClasses: classes + 2 }, new Random(3));
    expect(loadUnetTensors(moreClasses, tensors, 'reference', new Random(4))).toEqual({ reinitialisedHead: true });
    const failure = (model: UNet, from: Map<string, NamedTensor>) => {
      try {
        loadUnetTensors(model, from, 'ckpt.safetensors', new Random(4));
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        return (error as Error).message;
      }
      return '';
    };
    const wider = new UNet({ ...unet.config, baseWidth: ngf * 2 }, new Random(3));
    expect(failure(wider, tensors)).toBe(`ckpt.safetensors: is a U-Net of another size: the checkpoint has base_width ${ngf}, depth 4, 1 input channel; this run has base_width ${2 * ngf}, depth 4, 1 input channel (set model.base_width, model.depth and modalities to the checkpoint's)`);
    const deeper = new UNet({ ...unet.config, depth: 5 }, new Random(3));
    expect(failure(deeper, tensors)).toContain(`the checkpoint has base_width ${ngf}, depth 4, 1 input channel; this run has base_width ${ngf}, depth 5, 1 input channel`);
    const incomplete = new Map([...tensors].filter(([name]) => name !== 'model.3.weight'));
    expect(failure(new UNet(unet.config, new Random(3)), incomplete)).toBe(`ckpt.safetensors: does not match the model:\n  missing model.3.weight [${ngf},${ngf},3,3,3]`);
  });

  test('reinitialiseHead draws a fresh output layer even when the classes match; every other tensor is loaded', () => {
    const copy = new UNet(unet.config, new Random(3));
    const head = unet.modules.length - 1;
    expect(loadUnetTensors(copy, tensors, 'reference', new Random(4), true)).toEqual({ reinitialisedHead: true });
    const [fresh, pretrained] = [copy.weights.get(head)!.dataSync(), unet.weights.get(head)!.dataSync()];
    expect(fresh.some((value, i) => value !== pretrained[i])).toBe(true);
    expect(Array.from(copy.weights.get(0)!.dataSync())).toEqual(Array.from(unet.weights.get(0)!.dataSync()));
  });

  test('excluded layers keep the initialisation a run without --pretrained starts from; the rest is loaded', () => {
    const [copy, fresh, loaded] = [new UNet(unet.config, new Random(3)), new UNet(unet.config, new Random(3)), new UNet(unet.config, new Random(5))];
    loadUnetTensors(loaded, tensors, 'reference', new Random(4));
    const decoder = decoderLayers(copy.modules);
    expect(loadUnetTensors(copy, tensors, 'reference', new Random(4), false, new Set(decoder))).toEqual({ reinitialisedHead: true });
    const values = (model: UNet, index: number) => {
      const norm = model.norms.get(index);
      return Array.from((norm ? tf.concat([norm.gamma!, norm.beta!, norm.runningMean, norm.runningVar]) : model.weights.get(index)!).dataSync());
    };
    for (const index of [...copy.weights.keys(), ...copy.norms.keys()]) {
      expect(values(copy, index)).toEqual(values(decoder.includes(index) ? fresh : loaded, index));
    }
  });

  test('the decoder is every convolution and BatchNorm after the first upsampling (method.md §1.2)', () => {
    expect(decoderLayers(unetModules({ inputChannels: 1, outputClasses: 33, baseWidth: 16, depth: 4 }))).toEqual([38, 39, 41, 42, 45, 46, 48, 49, 52, 53, 55, 56, 59, 60, 62, 63, 65]);
  });

  test('shapes not divisible by 2^depth are refused with the rule', () => {
    expect(() => unet.forward(tf.zeros([1, 24, 32, 32, 1]) as tf.Tensor5D, { training: false })).toThrow('input shape 24×32×32 is not divisible by 16: the U-Net pools 4 times');
  });
});

describe('conv3d against the stock tfjs kernel', () => {
  test.each([
    [1, 5, 4, 3, 2, 3, 'one slab'],
    [2, 6, 5, 7, 3, 4, 'one slab'],
    [1, 2, 3, 4, 1, 2, 'one slab'],
    [1, 3, 2, 1, 3, 2, 'one slab'],
    [1, 8, 8, 8, 16, 8, 'one slab'],
    [2, 7, 6, 5, 4, 6, 'a slab per depth slice'],
  ])('shape %i×%i×%i×%i×%i → %i, %s: forward and both gradients on cpu and wasm to 1e-4 relative', async (n, d, h, w, cin, cout, slabs) => {
    const previousCap = setColumnBytesCap(slabs === 'one slab' ? 64 * 1024 * 1024 : 4096);
    await tf.setBackend('cpu');
    try {
      const inputs = [[n, d, h, w, cin], [3, 3, 3, cin, cout], [n, d, h, w, cout]].map((shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed + 1).dataSync() as Float32Array);
      const results = async (backend: 'cpu' | 'wasm', conv: typeof conv3dReflect) => {
        if (backend === 'wasm') await initBackend('wasm');
        else await tf.setBackend('cpu');
        return tf.tidy(() => {
          const [x, k] = [tf.tensor5d(inputs[0], [n, d, h, w, cin]), tf.tensor5d(inputs[1], [3, 3, 3, cin, cout])];
          const g = tf.tensor5d(inputs[2], [n, d, h, w, cout]);
          const [gx, gk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a as tf.Tensor5D, b as tf.Tensor5D).mul(g).sum())([x, k]);
          return [conv(x, k), gx, gk].map((t) => t.dataSync() as Float32Array);
        });
      };
      const stock = await results('cpu', conv3dReflectStock);
      for (const backend of ['cpu', 'wasm'] as const) {
        const ours = await results(backend, conv3dReflect);
        ours.forEach((values, i) => expect(relativeError(values, stock[i])).toBeLessThan(1e-4));
      }
    } finally {
      setColumnBytesCap(previousCap);
      await initBackend('wasm');
    }
  });
});
