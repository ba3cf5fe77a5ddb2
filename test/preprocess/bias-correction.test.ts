import { readFileSync } from 'node:fs';
import { readNifti } from '../../src/io/nifti.js';
import { createVolume } from '../../src/io/volume.js';
import {
  correctBiasField,
  N4_DEFAULTS,
  withBiasCorrection,
  type BiasCorrectionChoice,
} from '../../src/preprocess/bias-correction.js';
import type { Registrar } from '../../src/registration/registrar.js';
import { Random } from '../../src/runtime/random.js';
import { fixture } from '../helpers.js';

/** Pearson correlation and largest absolute difference of two series. */
function compare(a: number[], b: number[]): { r: number; largest: number } {
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const [ma, mb] = [mean(a), mean(b)];
  let [ab, aa, bb, largest] = [0, 0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i] - ma, b[i] - mb];
    [ab, aa, bb] = [ab + x * y, aa + x * x, bb + y * y];
    largest = Math.max(largest, Math.abs(x - y));
  }
  return { r: ab / Math.sqrt(aa * bb), largest };
}

/** Coefficient of variation of `image` over the voxels of one class. */
function variation(image: ArrayLike<number>, classes: Uint8Array, label: number): number {
  let [sum, squares, n] = [0, 0, 0];
  for (let v = 0; v < classes.length; v++) {
    if (classes[v] !== label) continue;
    [sum, squares, n] = [sum + image[v], squares + image[v] * image[v], n + 1];
  }
  const mean = sum / n;
  return Math.sqrt(squares / n - mean * mean) / mean;
}

/**
 * A head of CSF, GM and WM (T1 contrast 0.35, 0.65, 1) with a wavy GM/WM boundary, 3 % noise, times
 * exp(bias) with bias a smooth polynomial (standard deviation about 0.11 inside the head).
 */
function phantom(withBias: boolean) {
  const shape = [64, 72, 60];
  const random = new Random(5);
  const voxels = shape[0] * shape[1] * shape[2];
  const [image, bias, classes] = [new Float32Array(voxels), new Float32Array(voxels), new Uint8Array(voxels)];
  for (let k = 0, n = 0; k < shape[2]; k++) {
    for (let j = 0; j < shape[1]; j++) {
      for (let i = 0; i < shape[0]; i++, n++) {
        const [x, y, z] = [i / (shape[0] - 1), j / (shape[1] - 1), k / (shape[2] - 1)].map((t) => 2 * t - 1);
        const radius = Math.hypot(x / 0.8, y / 0.85, z / 0.8);
        const boundary = 0.55 + 0.08 * Math.sin(7 * x) * Math.cos(6 * y) * Math.sin(5 * z);
        classes[n] = radius > 1 ? 0 : radius > 0.9 ? 1 : radius > boundary ? 2 : 3;
        if (!classes[n]) continue;
        bias[n] = withBias ? 0.25 * x - 0.15 * y + 0.2 * z * z + 0.1 * x * y : 0;
        image[n] = [0, 0.35, 0.65, 1][classes[n]] * Math.exp(bias[n]) * (1 + 0.03 * random.normal());
      }
    }
  }
  const spacing = 2.5;
  const affine = [
    [spacing, 0, 0, 0],
    [0, spacing, 0, 0],
    [0, 0, spacing, 0],
    [0, 0, 0, 1],
  ];
  return { volume: createVolume(image, shape, affine), bias, classes };
}

const inside = (values: ArrayLike<number>, classes: Uint8Array) => Array.from(values).filter((_, v) => classes[v] > 0);

describe('bias field correction (N4)', () => {
  test("gives ITK's N4 field on a nearly isointense infant image (reference computed by ITK 5.2)", async () => {
    const reference = JSON.parse(readFileSync(fixture('bias', 'itk_n4.json'), 'utf8')) as {
      indices: number[];
      log_field: number[];
    };
    // the reference ran ANTs' four levels
    const { logField } = correctBiasField(await readNifti(fixture('bias', 'infant_T1w.nii.gz'), { kind: 'image' }), {
      ...N4_DEFAULTS,
      iterations: [50, 50, 50, 50],
    });
    const { r, largest } = compare(
      reference.indices.map((v) => logField[v]),
      reference.log_field,
    );
    expect(r).toBeGreaterThan(0.9999);
    expect(largest).toBeLessThan(1e-4);
  });

  test('recovers a known smooth bias: field correlation ≥ 0.98, each tissue as uniform as the noise allows', () => {
    const { volume, bias, classes } = phantom(true);
    const { corrected, logField } = correctBiasField(volume);
    expect(compare(inside(logField, classes), inside(bias, classes)).r).toBeGreaterThan(0.98);
    for (const label of [1, 2, 3]) {
      expect(variation(volume.data, classes, label)).toBeGreaterThan(0.06);
      expect(variation(corrected.data, classes, label)).toBeLessThan(0.035);
    }
  });

  test('leaves an image without bias as it is (within 2 %)', () => {
    const { volume, classes } = phantom(false);
    const { corrected, logField } = correctBiasField(volume);
    const field = inside(logField, classes);
    expect(Math.sqrt(field.reduce((sum, v) => sum + v * v, 0) / field.length)).toBeLessThan(0.02);
    for (const label of [1, 2, 3])
      expect(variation(corrected.data, classes, label)).toBeLessThan(variation(volume.data, classes, label) + 0.003);
  });
});

describe('--bias-correction: which correction runs, and what done.json and qc.json say', () => {
  const registrar = (withN4: boolean): Registrar => ({
    name: withN4 ? 'ants' : 'elastix',
    version: 'test',
    threads: 1,
    affine: async () => {
      throw new Error('not called');
    },
    deformable: async () => {
      throw new Error('not called');
    },
    ...(withN4 && { biasCorrect: async () => {} }),
  });
  const cases: [boolean, BiasCorrectionChoice, string | null, string | undefined][] = [
    [true, 'auto', 'ants N4', undefined],
    [true, 'longiseg', 'longiseg N4', undefined],
    [true, 'none', null, 'no bias correction (--bias-correction none)'],
    [false, 'auto', 'longiseg N4', undefined],
    [false, 'longiseg', 'longiseg N4', undefined],
    [false, 'none', null, 'no bias correction (--bias-correction none)'],
  ];
  for (const [withN4, choice, correction, note] of cases) {
    test(`${withN4 ? 'ants' : 'elastix'}, ${choice}`, () => {
      const chosen = withBiasCorrection(registrar(withN4), choice);
      expect([chosen.biasCorrection, chosen.uncorrectedNote]).toEqual([correction, note]);
      expect(chosen.registrar.biasCorrect !== undefined).toBe(correction !== null);
    });
  }
});
