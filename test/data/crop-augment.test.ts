import type { Vec3 } from '../../src/io/affine.js';
import {
  applyIntensity,
  applySpatial,
  REFERENCE_AUGMENT,
  sampleIntensity,
  sampleSpatial,
  type AugmentConfig,
  type IntensityRecipe,
  type SpatialRecipe,
} from '../../src/data/augment.js';
import { intensityThenSpatialCrop, labelCrop, spatialThenIntensityCrop } from '../../src/data/crop-augment.js';
import { packCrop } from '../../src/data/sampler.js';
import { Random } from '../../src/runtime/random.js';
import { maxAbsDiff } from '../helpers.js';

/** The whole-volume path: augment everything, then cut the crop. */
function cropOf(data: ArrayLike<number>, shape: Vec3, start: Vec3, crop: Vec3): Float32Array {
  const out = new Float32Array(crop[0] * crop[1] * crop[2]);
  packCrop([data], shape, start, crop, out, 0);
  return out;
}

describe('crop-local augmentation equals augmenting the whole volume, then cropping', () => {
  const shape: Vec3 = [40, 36, 32];
  const crop: Vec3 = [16, 16, 16];
  const random = new Random(21);
  // a smooth image with structure everywhere, zero outside an ellipsoid "head", as a skull-stripped scan
  const image = new Float32Array(shape[0] * shape[1] * shape[2]);
  const labels = new Uint8Array(image.length);
  for (let z = 0, i = 0; z < shape[2]; z++) {
    for (let y = 0; y < shape[1]; y++) {
      for (let x = 0; x < shape[0]; x++, i++) {
        const r = ((x - 20) / 18) ** 2 + ((y - 18) / 16) ** 2 + ((z - 16) / 14) ** 2;
        image[i] =
          r < 1 ? 0.5 + 0.3 * Math.sin(x / 3) * Math.cos(y / 4) + 0.1 * Math.sin(z / 2) + 0.05 * random.next() : 0;
        labels[i] = r < 1 ? 1 + (((x >> 3) + (y >> 3) + (z >> 3)) % 4) : 0;
      }
    }
  }
  // every transform but noise (drawn for the box read) and motion (whole-volume only) on
  const config: AugmentConfig = {
    ...REFERENCE_AUGMENT,
    flip: { p: 1 },
    affine: { p: 1, scale: 0.2, degrees: 10 },
    blur: { p: 1, sigma: 1.5 },
    noise: { p: 0, std: 0.25 },
    biasField: { p: 1, coefficient: 0.5, order: 3 },
    gamma: { p: 1, logGamma: 0.3 },
    motion: { ...REFERENCE_AUGMENT.motion, p: 0 },
  };
  /** 1 where the spatial transform reads inside the volume (its fill, the minimum, is 0 here: one corner voxel is 0). */
  const insideMask = (spatial: SpatialRecipe, start: Vec3) => {
    const ones = new Float32Array(image.length).fill(1);
    ones[0] = 0;
    return cropOf(applySpatial(ones, shape, spatial, 'image'), shape, start, crop);
  };
  const draws = Array.from({ length: 12 }, (_, n) => {
    const r = new Random(100 + n);
    const spatial: SpatialRecipe = sampleSpatial(r, config, shape);
    const intensity: IntensityRecipe = sampleIntensity(r, config);
    const start = shape.map((size, axis) => r.integer(0, size - crop[axis])) as Vec3;
    return { spatial, intensity, start };
  });

  test('labelled crops (intensity, then flip and affine) match to 1e-5 away from the volume edge', () => {
    let compared = 0;
    for (const { spatial, intensity, start } of draws) {
      const whole = cropOf(
        applySpatial(applyIntensity(image, shape, intensity), shape, spatial, 'image'),
        shape,
        start,
        crop,
      );
      const local = intensityThenSpatialCrop(image, shape, intensity, spatial, start, crop);
      // the two fill values (outside the volume) may differ: compare where the whole path did not fill
      const filled = insideMask(spatial, start);
      const inside = [...whole.keys()].filter((i) => filled[i] > 0.999);
      expect(inside.length).toBeGreaterThan(crop[0] * crop[1] * crop[2] * 0.5);
      expect(
        maxAbsDiff(
          inside.map((i) => local[i]),
          inside.map((i) => whole[i]),
        ),
      ).toBeLessThan(1e-5);
      compared += inside.length;
    }
    expect(compared).toBeGreaterThan(20000);
  });

  test('label crops match exactly (nearest neighbour), flips with and without an affine', () => {
    for (const { spatial, start } of [
      ...draws,
      { spatial: { flip: true }, start: [3, 5, 7] as Vec3 },
      { spatial: { flip: false }, start: [24, 20, 16] as Vec3 },
    ]) {
      const whole = cropOf(applySpatial(labels, shape, spatial, 'label'), shape, start, crop);
      const local = labelCrop(labels, shape, spatial, start, crop);
      expect(local).toBeInstanceOf(Uint8Array);
      const differing = [...local].filter((value, i) => value !== whole[i]).length;
      // a position exactly halfway between voxels may round either way after a different order of float operations
      expect(differing).toBeLessThanOrEqual(2);
    }
  });

  test('pair crops (flip and affine, then intensity): target and input match to 1e-5', () => {
    for (const { spatial, intensity, start } of draws) {
      const moved = applySpatial(image, shape, spatial, 'image');
      const { target, input } = spatialThenIntensityCrop(image, shape, spatial, intensity, start, crop);
      expect(maxAbsDiff(target, cropOf(moved, shape, start, crop))).toBeLessThan(1e-5);
      expect(maxAbsDiff(input, cropOf(applyIntensity(moved, shape, intensity), shape, start, crop))).toBeLessThan(1e-5);
    }
  });

  test('with motion (whole lines spliced in k-space), both kinds of crop match to 1e-5', () => {
    const motion = sampleIntensity(new Random(5), { ...config, motion: { ...REFERENCE_AUGMENT.motion, p: 1 } });
    expect(motion.motion).toBeDefined();
    for (const { spatial, start } of draws.slice(0, 3)) {
      const whole = cropOf(
        applySpatial(applyIntensity(image, shape, motion), shape, spatial, 'image'),
        shape,
        start,
        crop,
      );
      const filled = insideMask(spatial, start);
      const inside = [...whole.keys()].filter((i) => filled[i] > 0.999);
      const local = intensityThenSpatialCrop(image, shape, motion, spatial, start, crop);
      expect(
        maxAbsDiff(
          inside.map((i) => local[i]),
          inside.map((i) => whole[i]),
        ),
      ).toBeLessThan(1e-5);
      const moved = applySpatial(image, shape, spatial, 'image');
      const pair = spatialThenIntensityCrop(image, shape, spatial, motion, start, crop);
      expect(maxAbsDiff(pair.input, cropOf(applyIntensity(moved, shape, motion), shape, start, crop))).toBeLessThan(
        1e-5,
      );
    }
  });

  test('noise is the same for both sessions of a pair (same recipe, same box)', () => {
    const noisy = sampleIntensity(new Random(8), { ...config, noise: { p: 1, std: 0.25 } });
    const { spatial, start } = draws[1];
    const a = spatialThenIntensityCrop(image, shape, spatial, noisy, start, crop).input;
    const b = spatialThenIntensityCrop(image, shape, spatial, noisy, start, crop).input;
    expect([...b]).toEqual([...a]);
    expect(
      maxAbsDiff(a, spatialThenIntensityCrop(image, shape, spatial, { ...noisy, noise: undefined }, start, crop).input),
    ).toBeGreaterThan(0.01);
  });
});
