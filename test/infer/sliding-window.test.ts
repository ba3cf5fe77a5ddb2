import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { normaliseMinPercentile, percentile } from '../../src/data/intensity.js';
import { initBackend } from '../../src/engine/backend.js';
import type { Vec3 } from '../../src/io/affine.js';
import { argmaxLabels, softmaxInPlace } from '../../src/engine/logits.js';
import { slidingWindowLogits, type PatchPredictor } from '../../src/infer/sliding-window.js';
import { gaussianImportance, tileStarts } from '../../src/infer/tiles.js';
import { unetPredictor } from '../../src/infer/unet-predictor.js';
import { InterruptedError } from '../../src/runtime/errors.js';
import { Random } from '../../src/runtime/random.js';
import { fixture, maxAbsDiff } from '../helpers.js';
import { thresholdLabels, thresholdModel } from './threshold-model.js';

const reference = JSON.parse(readFileSync(fixture('infer', 'reference.json'), 'utf8'));

describe('tiling and weighting against nnU-Net (fixtures from test/reference/make_infer_fixtures.py)', () => {
  for (const s of reference.steps as { image: Vec3; patch: Vec3; overlap: number; starts: number[][] }[]) {
    test(`tile starts for image ${s.image.join('×')}, patch ${s.patch.join('×')}, overlap ${s.overlap}`, () => {
      expect([0, 1, 2].map((axis) => tileStarts(s.image[axis], s.patch[axis], s.overlap))).toEqual(s.starts);
    });
  }

  for (const g of reference.gaussian as { patch: Vec3; map: number[] }[]) {
    test(`importance map ${g.patch.join('×')}`, () => {
      expect(maxAbsDiff(gaussianImportance(g.patch), g.map) / 10).toBeLessThan(1e-6);
    });
  }

  for (const n of reference.normalisation as { input: number[]; output: number[] }[]) {
    test(`min/99.99th-percentile normalisation of ${n.input.length} values`, () => {
      expect(maxAbsDiff(normaliseMinPercentile(Float32Array.from(n.input), 99.99), n.output)).toBeLessThan(1e-6);
    });
  }

  test('percentiles by selection are those of the sorted values, ties and a half-empty volume included', () => {
    const random = new Random(3);
    const ofSorted = (values: Float32Array, percent: number) => {
      const sorted = Float32Array.from(values).sort();
      const position = (percent / 100) * (sorted.length - 1);
      const below = Math.floor(position);
      return sorted[below] + (position - below) * (sorted[Math.min(below + 1, sorted.length - 1)] - sorted[below]);
    };
    for (let trial = 0; trial < 200; trial++) {
      const values = Float32Array.from({ length: 1 + Math.floor(random.next() * 300) }, () =>
        random.next() < 0.5 ? 0 : Math.round(random.next() * (trial % 2 ? 4 : 1000)) - 2,
      );
      for (const percent of [0, 1, 50, 99.99, 100, random.next() * 100])
        expect(percentile(values, percent)).toBe(ofSorted(values, percent));
    }
  });

  test('a volume of one value is left as it is', () => {
    expect([...normaliseMinPercentile(Float32Array.of(3, 3, 3), 99.99)]).toEqual([3, 3, 3]);
  });
});

describe('sliding-window stitching', () => {
  const random = new Random(7);
  const image = (shape: Vec3, channels = 1) => ({
    data: Float32Array.from({ length: shape[0] * shape[1] * shape[2] * channels }, () => random.uniform(0, 1)),
    shape,
    channels,
  });
  const identity: PatchPredictor = (patches) => patches.slice();

  test.each([
    [[16, 16, 16], [16, 16, 16], false],
    [[37, 29, 21], [16, 16, 16], false],
    [[37, 29, 21], [16, 8, 16], true],
    [[40, 17, 33], [16, 16, 16], true],
  ] as [Vec3, Vec3, boolean][])(
    'an identity network gives back image %j with patch %j (mirroring %s)',
    async (shape, patch, mirror) => {
      const input = image(shape);
      const logits = await slidingWindowLogits(input, identity, {
        patch,
        overlap: 0.5,
        mirrorAxes: mirror ? [0, 1, 2] : [],
        batch: 3,
        classes: 1,
      });
      expect(maxAbsDiff(logits, input.data)).toBeLessThan(1e-5); // float32 sums; a misplaced voxel is off by ~0.5
    },
  );

  test('channel-last classes survive mirroring', async () => {
    const input = image([20, 18, 16], 3);
    const logits = await slidingWindowLogits(input, identity, {
      patch: [16, 16, 16],
      overlap: 0.25,
      mirrorAxes: [0, 1, 2],
      batch: 2,
      classes: 3,
    });
    expect(maxAbsDiff(logits, input.data)).toBeLessThan(1e-5); // float32 sums; a misplaced voxel is off by ~0.5
  });

  test('a network that names the sides: mirrored windows have their sides swapped back', async () => {
    // class 1 (Left-X) where the network sees the patch's first half along x, class 2 (Right-X) in the
    // second, as one trained on left-right flips with swapped labels would; 0 is the background
    const sides: PatchPredictor = (_, count, [px, py, pz]) => {
      const logits = new Float32Array(count * px * py * pz * 3);
      for (let v = 0; v < logits.length / 3; v++) logits[v * 3 + (v % px < px / 2 ? 1 : 2)] = 1;
      return logits;
    };
    const shape: Vec3 = [16, 8, 8];
    const options = { patch: shape, overlap: 0.5, batch: 2, classes: 3 };
    const plain = argmaxLabels(await slidingWindowLogits(image(shape), sides, { ...options, mirrorAxes: [] }), 3);
    expect(plain.slice(0, 16)).toEqual(Int32Array.from({ length: 16 }, (_, x) => (x < 8 ? 1 : 2)));
    const swapped = await slidingWindowLogits(image(shape), sides, {
      ...options,
      mirrorAxes: [0, 1, 2],
      mirroredLabels: [0, 2, 1],
    });
    expect(argmaxLabels(swapped, 3)).toEqual(plain);
    // without the swap, half the mirrorings say the other side: the two sides tie everywhere
    const unswapped = await slidingWindowLogits(image(shape), sides, { ...options, mirrorAxes: [0] });
    for (let v = 0; v < unswapped.length / 3; v++) expect(unswapped[v * 3 + 1]).toBeCloseTo(unswapped[v * 3 + 2], 6);
  });

  test('overlapping tiles are mixed by their Gaussian weights', async () => {
    // image 20 wide, patch 8, overlap 0.5: tiles start at x = 0, 4, 8, 12; each tile answers its own index
    let call = 0;
    const tileIndex: PatchPredictor = (_, count, patch) =>
      new Float32Array(count * patch[0] * patch[1] * patch[2]).fill(call++);
    const logits = await slidingWindowLogits(image([20, 8, 8]), tileIndex, {
      patch: [8, 8, 8],
      overlap: 0.5,
      mirrorAxes: [],
      batch: 1,
      classes: 1,
    });
    const g = (i: number) => Math.exp((-0.5 * (i - 4) ** 2) / 1); // σ = 8/8
    expect(logits[5]).toBeCloseTo((g(5) * 0 + g(1) * 1) / (g(5) + g(1)), 5);
    expect(logits[10]).toBeCloseTo((g(6) * 1 + g(2) * 2) / (g(6) + g(2)), 5);
    expect(logits[19]).toBeCloseTo(3, 6);
  });

  test('argmax takes the first of equal logits; softmax rows sum to 1', () => {
    expect([...argmaxLabels(Float32Array.of(1, 3, 3, 0, -1, -2), 3)]).toEqual([1, 0]);
    const p = softmaxInPlace(Float32Array.of(0, Math.log(3), 5, 5), 2);
    expect([...p].map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0.25, 0.75, 0.5, 0.5]);
  });

  test('an interrupted run stops between patches', async () => {
    const controller = new AbortController();
    controller.abort(new InterruptedError('SIGTERM'));
    await expect(
      slidingWindowLogits(image([16, 16, 16]), identity, {
        patch: [16, 16, 16],
        overlap: 0.5,
        mirrorAxes: [],
        batch: 1,
        classes: 1,
        signal: controller.signal,
      }),
    ).rejects.toBeInstanceOf(InterruptedError);
  });
});

describe('the U-Net through the sliding window', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  test('a threshold network labels every voxel by its intensity, with and without mirroring', async () => {
    const thresholds = [0.25, 0.5, 0.75];
    const { unet } = thresholdModel(thresholds);
    const shape: Vec3 = [35, 18, 20];
    const random = new Random(3);
    // intensities on a grid of 1/64 steps, so none lies near a threshold
    const data = Float32Array.from(
      { length: shape[0] * shape[1] * shape[2] },
      () => (random.integer(0, 63) + 0.5) / 64,
    );
    const tensorsBefore = tf.memory().numTensors;
    for (const mirrorAxes of [[], [0], [0, 1, 2]]) {
      const logits = await slidingWindowLogits({ data, shape, channels: 1 }, unetPredictor(unet), {
        patch: [16, 16, 16],
        overlap: 0.5,
        mirrorAxes,
        batch: 2,
        classes: 4,
      });
      expect([...argmaxLabels(logits, 4)]).toEqual([...thresholdLabels(data, thresholds)]);
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
