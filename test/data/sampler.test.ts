import type { Vec3 } from '../../src/io/affine.js';
import { sideSwap } from '../../src/io/labels.js';
import { REFERENCE_AUGMENT } from '../../src/data/augment.js';
import { Sampler } from '../../src/data/sampler.js';
import type { Session, Subject } from '../../src/data/study.js';
import { Random } from '../../src/runtime/random.js';

const shape: Vec3 = [32, 32, 32];
const index = (x: number, y: number, z: number) => x + shape[0] * (y + shape[1] * z);

/**
 * A head (ball of radius 14 in the middle of an empty volume) holding two tiny structures of 8
 * voxels, label 1 left of the middle (x < 16) and label 2 right of it, and a large label 3.
 */
function session(name: string): Session {
  const image = new Float32Array(shape[0] * shape[1] * shape[2]);
  const label = new Uint8Array(image.length);
  for (let z = 0; z < 32; z++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = (x - 15.5) ** 2 + (y - 15.5) ** 2 + (z - 15.5) ** 2 < 196;
        image[index(x, y, z)] = inside ? 0.5 + 0.01 * ((x + y + z) % 7) : 0;
        if (inside && z < 10) label[index(x, y, z)] = 3;
      }
    }
  }
  for (const [x0, value] of [
    [8, 1],
    [22, 2],
  ]) {
    for (let z = 20; z < 22; z++)
      for (let y = 20; y < 22; y++) for (let x = x0; x < x0 + 2; x++) label[index(x, y, z)] = value;
  }
  // a marker left of the middle, to tell flipped crops
  image[index(6, 16, 16)] = 0.9;
  return { subject: '01', session: name, channels: [image], label, shape };
}

const subjects: Subject[] = [{ id: '01', sessions: [session('01'), session('02')] }];
const crop = 8;
const voxels = crop ** 3;
const contains = (labels: Int32Array, item: number, value: number) =>
  labels.subarray(item * voxels, (item + 1) * voxels).includes(value);

describe('foreground-aware crops', () => {
  const draws = 600;

  test.each([
    ['without augmentation', undefined],
    [
      'through flips and affine transforms',
      {
        ...REFERENCE_AUGMENT,
        flip: { p: 1 },
        affine: { p: 1, scale: 0.2, degrees: 10 },
        motion: { ...REFERENCE_AUGMENT.motion, p: 0 },
      },
    ],
  ])('oversample_foreground 0.33: a drawn tiny class is in the crop in a third of the crops, %s', (_, augment) => {
    const sampler = new Sampler(subjects, { crop, pairing: 'any', augment, oversampleForeground: 0.33 });
    const plain = new Sampler(subjects, { crop, pairing: 'any', augment });
    const random = new Random(4);
    const shares = [sampler, plain].map((s) => {
      let tiny = 0;
      for (let n = 0; n < draws; n++) {
        const { labels } = s.labelled(1, random);
        if (contains(labels, 0, 1) || contains(labels, 0, 2)) tiny++;
      }
      return tiny / draws;
    });
    // a drawn class is one of three: 2/3 of the oversampled third hold a tiny structure, plus what uniform crops catch
    const uniform = shares[1];
    expect(uniform).toBeLessThan(0.3);
    const expected = 0.33 * (2 / 3) + (1 - 0.33) * uniform;
    // binomial standard deviation at 600 draws is about 0.02: 3.5 of them
    expect(Math.abs(shares[0] - expected)).toBeLessThan(0.07);
  });

  test('oversample_foreground 1: every crop holds a class the label map has', () => {
    const sampler = new Sampler(subjects, { crop, pairing: 'any', oversampleForeground: 1 });
    const random = new Random(5);
    for (let n = 0; n < 200; n++) {
      const { labels } = sampler.labelled(1, random);
      expect([1, 2, 3].some((value) => contains(labels, 0, value))).toBe(true);
    }
  });

  test('the same seed gives the same crops; the share does not change the other draws', () => {
    const a = new Sampler(subjects, { crop, pairing: 'any', oversampleForeground: 0.33 }).labelled(4, new Random(9));
    const b = new Sampler(subjects, { crop, pairing: 'any', oversampleForeground: 0.33 }).labelled(4, new Random(9));
    expect([...b.input.data]).toEqual([...a.input.data]);
  });

  test('crops_inside_head: pair crops are centred inside the head, never in the empty corners', () => {
    const random = new Random(6);
    const inside = new Sampler(subjects, { crop, pairing: 'any', insideHead: true });
    const anywhere = new Sampler(subjects, { crop, pairing: 'any' });
    const centreValue = (sampler: Sampler) => {
      const { input } = sampler.pairs(1, random);
      const c = crop / 2;
      return input.data[c + crop * (c + crop * c)];
    };
    const emptyInside = Array.from({ length: 300 }, () => centreValue(inside)).filter((v) => v === 0).length;
    const emptyAnywhere = Array.from({ length: 300 }, () => centreValue(anywhere)).filter((v) => v === 0).length;
    expect(emptyInside).toBe(0);
    expect(emptyAnywhere).toBeGreaterThan(10);
  });
});

describe('left-right flips with swap_sides', () => {
  test('a flipped crop labels the left structure (now on the right) with the right label', () => {
    const table = new Map([
      [0, 'background'],
      [1, 'Left-Caudate'],
      [2, 'Right-Caudate'],
      [3, 'CSF'],
    ]);
    const swap = sideSwap(table, 4);
    expect([...swap]).toEqual([0, 2, 1, 3]);
    const flipOnly = { ...REFERENCE_AUGMENT, flip: { p: 1 }, affine: { ...REFERENCE_AUGMENT.affine, p: 0 } };
    const sampler = new Sampler(subjects, { crop: 32, pairing: 'any', augment: flipOnly, sideSwap: swap });
    const random = new Random(2);
    let flipped = 0;
    for (let n = 0; n < 20; n++) {
      const { input, labels } = sampler.labelled(1, random);
      // label 1 (left) must always lie at x < 16 and label 2 at x > 16, flipped or not
      for (let i = 0; i < labels.length; i++) {
        if (labels[i] === 1) expect(i % 32).toBeLessThan(16);
        if (labels[i] === 2) expect(i % 32).toBeGreaterThan(16);
      }
      if (input.data[index(25, 16, 16)] > 0.85 && input.data[index(6, 16, 16)] < 0.85) flipped++;
    }
    expect(flipped).toBeGreaterThan(3);
    expect(
      sideSwap(
        new Map([
          [1, 'Left-Hippocampus'],
          [2, 'right-hippocampus'],
          [3, 'Left-Amygdala'],
        ]),
        4,
      ).slice(1),
    ).toEqual(Int32Array.of(2, 1, 3));
  });
});
