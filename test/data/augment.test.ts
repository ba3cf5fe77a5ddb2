import { readFileSync } from 'node:fs';
import type { Vec3 } from '../../src/io/affine.js';
import {
  applyIntensity,
  applySpatial,
  gaussianBlur,
  monomials,
  REFERENCE_AUGMENT,
  sampleIntensity,
  sampleSpatial,
} from '../../src/data/augment.js';
import { aboutCentre } from '../../src/data/geometry.js';
import { applyMotion, spliceSpectra } from '../../src/data/motion.js';
import { Random } from '../../src/runtime/random.js';
import { fixture, maxAbsDiff } from '../helpers.js';

const reference = JSON.parse(readFileSync(fixture('data', 'augment.json'), 'utf8'));

describe('augmentations against scipy and numpy (fixtures from test/reference/make_data_fixtures.py)', () => {
  test.each([0, 1])('Gaussian blur equals scipy gaussian_filter (case %i)', (i) => {
    const { shape, input, cases } = reference.blur;
    expect(maxAbsDiff(gaussianBlur(Float32Array.from(input), shape, cases[i].sigmas), cases[i].output)).toBeLessThan(
      1e-5,
    );
  });

  test("k-space motion: splicing along the last axis alone equals TorchIO's 3D-FFT splice", () => {
    const { shape, times, images, output } = reference.motion;
    expect(
      maxAbsDiff(
        spliceSpectra(
          images.map((im: number[]) => Float32Array.from(im)),
          shape,
          times,
        ),
        output,
      ),
    ).toBeLessThan(1e-5);
  });
});

describe('augmentation recipes', () => {
  const shape: Vec3 = [12, 10, 8];
  const random = new Random(11);
  const image = Float32Array.from({ length: 960 }, () => random.uniform(0, 1));
  const labels = Uint8Array.from({ length: 960 }, () => random.integer(0, 4));

  test('a pair replays the identical transforms, noise included', () => {
    const config = {
      ...REFERENCE_AUGMENT,
      noise: { p: 1, std: 0.25 },
      affine: { p: 1, scale: 0.2, degrees: 10 },
      biasField: { p: 1, coefficient: 0.5, order: 3 },
    };
    const spatial = sampleSpatial(new Random(3), config, shape);
    const intensity = sampleIntensity(new Random(4), config);
    const a = applyIntensity(applySpatial(image, shape, spatial, 'image'), shape, intensity);
    const b = applyIntensity(applySpatial(image, shape, spatial, 'image'), shape, intensity);
    expect([...b]).toEqual([...a]);
    expect(maxAbsDiff(a, image)).toBeGreaterThan(0.1);
  });

  test('a flip done twice and an identity affine give the image back; labels stay labels', () => {
    const flip = { flip: true };
    expect([...applySpatial(applySpatial(image, shape, flip, 'image'), shape, flip, 'image')]).toEqual([...image]);
    const identity = {
      flip: false,
      affine: aboutCentre(
        [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
        [0, 0, 0],
        shape,
      ),
    };
    expect(maxAbsDiff(applySpatial(image, shape, identity, 'image'), image)).toBeLessThan(1e-6);
    const moved = applySpatial(
      labels,
      shape,
      sampleSpatial(new Random(5), { ...REFERENCE_AUGMENT, affine: { p: 1, scale: 0.2, degrees: 10 } }, shape),
      'label',
    );
    expect(moved).toBeInstanceOf(Uint8Array);
    expect(new Set(moved).size).toBeLessThanOrEqual(5);
  });

  test('motion without movement leaves the image as it is', () => {
    const still = {
      moves: [
        { angles: [0, 0, 0] as Vec3, translation: [0, 0, 0] as Vec3 },
        { angles: [0, 0, 0] as Vec3, translation: [0, 0, 0] as Vec3 },
      ],
      times: [0.35, 0.64],
    };
    expect(maxAbsDiff(applyMotion(image, shape, still), image)).toBeLessThan(1e-5);
  });

  test('the bias field has 20 monomials at order 3; gamma keeps the sign of negative values', () => {
    expect(monomials(3)).toHaveLength(20);
    const out = applyIntensity(Float32Array.of(-0.25, 0.25, 1), [3, 1, 1], { gamma: 2 });
    expect([...out]).toEqual([-0.0625, 0.0625, 1]);
  });

  test('probabilities: over many draws each transform fires at its rate', () => {
    const draws = 4000;
    const r = new Random(9);
    let flips = 0;
    let affines = 0;
    let blurs = 0;
    for (let i = 0; i < draws; i++) {
      const s = sampleSpatial(r, REFERENCE_AUGMENT, shape);
      flips += s.flip ? 1 : 0;
      affines += s.affine ? 1 : 0;
      blurs += sampleIntensity(r, REFERENCE_AUGMENT).blur ? 1 : 0;
    }
    expect(flips / draws).toBeCloseTo(0.25, 1);
    expect(affines / draws).toBeCloseTo(0.5, 1);
    expect(blurs / draws).toBeCloseTo(0.3, 1);
  });
});
