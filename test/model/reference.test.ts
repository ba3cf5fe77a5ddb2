import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { conv3dReflect, conv3dReflectStock, setColumnBytesCap } from '../../src/engine/conv3d.js';
import { headTensors, loadUnetTensors, unetTensors } from '../../src/model/checkpoint.js';
import type { ProjectionHead } from '../../src/model/heads.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../../src/model/safetensors.js';
import { UNet } from '../../src/model/unet.js';
import { decoderLayers, layersBelowLevels, unetModules } from '../../src/model/unet-layout.js';
import { Random } from '../../src/runtime/random.js';
import { InputError } from '../../src/runtime/errors.js';
import { asTensor, describePyTorchChecks, reference, referenceModel, relativeError } from './pytorch-checks.js';

const { ngf, classes, taps } = reference.config;

describePyTorchChecks('wasm');

describe('the U-Net: parameters, checkpoints and layer selection', () => {
  let tensors: Map<string, NamedTensor>;
  let unet: UNet;
  let heads: ProjectionHead[];

  beforeAll(async () => {
    await initBackend('wasm');
    ({ tensors, unet, heads } = await referenceModel());
  });

  test('the full-size model has the reference parameter count (66 modules, 5,906,688 parameters)', () => {
    const full = new UNet({ inputChannels: 1, outputClasses: 33, baseWidth: 16, depth: 4 }, new Random(0));
    expect(full.modules).toHaveLength(66);
    expect(full.parameterCount()).toBe(5_906_688);
    expect(taps.map((layer: number) => full.channelsOf(layer))).toEqual([16, 32, 64, 128, 128, 256, 128, 64, 32]);
  });

  test('a checkpoint round trip through safetensors gives identical outputs', async () => {
    const bytes = encodeSafetensors(new Map([...(await unetTensors(unet)), ...(await headTensors(heads[0]))]), {
      config: JSON.stringify(reference.config),
    });
    const { tensors: back, metadata } = decodeSafetensors(bytes, 'memory');
    expect(JSON.parse(metadata.config)).toEqual(reference.config);
    const copy = new UNet(unet.config, new Random(99));
    loadUnetTensors(copy, back, 'memory', new Random(0));
    const x = asTensor(tensors.get('expected.x')!) as tf.Tensor5D;
    const a = unet.forward(x, { training: false }).logits.dataSync();
    const b = copy.forward(x, { training: false }).logits.dataSync();
    expect(await relativeError(b as Float32Array, a as Float32Array)).toBe(0);
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
    expect(failure(wider, tensors)).toBe(
      `ckpt.safetensors: is a U-Net of another size: the checkpoint has base_width ${ngf}, depth 4, 1 input channel; this run has base_width ${2 * ngf}, depth 4, 1 input channel (set model.base_width, model.depth and modalities to the checkpoint's)`,
    );
    const deeper = new UNet({ ...unet.config, depth: 5 }, new Random(3));
    expect(failure(deeper, tensors)).toContain(
      `the checkpoint has base_width ${ngf}, depth 4, 1 input channel; this run has base_width ${ngf}, depth 5, 1 input channel`,
    );
    const incomplete = new Map([...tensors].filter(([name]) => name !== 'model.3.weight'));
    expect(failure(new UNet(unet.config, new Random(3)), incomplete)).toBe(
      `ckpt.safetensors: does not match the model:\n  missing model.3.weight [${ngf},${ngf},3,3,3]`,
    );
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
    const [copy, fresh, loaded] = [
      new UNet(unet.config, new Random(3)),
      new UNet(unet.config, new Random(3)),
      new UNet(unet.config, new Random(5)),
    ];
    loadUnetTensors(loaded, tensors, 'reference', new Random(4));
    const decoder = decoderLayers(copy.modules);
    expect(loadUnetTensors(copy, tensors, 'reference', new Random(4), false, new Set(decoder))).toEqual({
      reinitialisedHead: true,
    });
    const values = (model: UNet, index: number) => {
      const norm = model.norms.get(index);
      return Array.from(
        (norm
          ? tf.concat([norm.gamma!, norm.beta!, norm.runningMean, norm.runningVar])
          : model.weights.get(index)!
        ).dataSync(),
      );
    };
    for (const index of [...copy.weights.keys(), ...copy.norms.keys()]) {
      expect(values(copy, index)).toEqual(values(decoder.includes(index) ? fresh : loaded, index));
    }
  });

  test('the decoder is every convolution and BatchNorm after the first upsampling, by the layer ids of the reference', () => {
    expect(decoderLayers(unetModules({ inputChannels: 1, outputClasses: 33, baseWidth: 16, depth: 4 }))).toEqual([
      38, 39, 41, 42, 45, 46, 48, 49, 52, 53, 55, 56, 59, 60, 62, 63, 65,
    ]);
  });

  test("below the encoder's first three levels: every convolution and BatchNorm after the third pooling", () => {
    const modules = unetModules({ inputChannels: 1, outputClasses: 33, baseWidth: 16, depth: 4 });
    expect(layersBelowLevels(modules, 3)).toEqual([24, 25, 27, 28, 31, 32, 34, 35, ...decoderLayers(modules)]);
    expect(layersBelowLevels(modules, 4)).toEqual([31, 32, 34, 35, ...decoderLayers(modules)]);
  });

  test('shapes not divisible by 2^depth are refused with the rule', () => {
    expect(() => unet.forward(tf.zeros([1, 24, 32, 32, 1]) as tf.Tensor5D, { training: false })).toThrow(
      'input shape 24×32×32 is not divisible by 16: the U-Net pools 4 times',
    );
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
  ])(
    'shape %i×%i×%i×%i×%i → %i, %s: forward and both gradients on cpu and wasm to 1e-4 relative',
    async (n, d, h, w, cin, cout, slabs) => {
      const previousCap = setColumnBytesCap(slabs === 'one slab' ? 64 * 1024 * 1024 : 4096);
      await tf.setBackend('cpu');
      try {
        const inputs = [
          [n, d, h, w, cin],
          [3, 3, 3, cin, cout],
          [n, d, h, w, cout],
        ].map((shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed + 1).dataSync() as Float32Array);
        const results = async (backend: 'cpu' | 'wasm', conv: typeof conv3dReflect) => {
          if (backend === 'wasm') await initBackend('wasm');
          else await tf.setBackend('cpu');
          return tf.tidy(() => {
            const [x, k] = [tf.tensor5d(inputs[0], [n, d, h, w, cin]), tf.tensor5d(inputs[1], [3, 3, 3, cin, cout])];
            const g = tf.tensor5d(inputs[2], [n, d, h, w, cout]);
            const [gx, gk] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
              conv(a as tf.Tensor5D, b as tf.Tensor5D)
                .mul(g)
                .sum(),
            )([x, k]);
            return [conv(x, k), gx, gk].map((t) => t.dataSync() as Float32Array);
          });
        };
        const stock = await results('cpu', conv3dReflectStock);
        for (const backend of ['cpu', 'wasm'] as const) {
          const ours = await results(backend, conv3dReflect);
          for (const [i, values] of ours.entries()) expect(await relativeError(values, stock[i])).toBeLessThan(1e-4);
        }
      } finally {
        setColumnBytesCap(previousCap);
        await initBackend('wasm');
      }
    },
  );
});
