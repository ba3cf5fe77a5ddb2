import { join } from 'node:path';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { resampleThroughField, resampleToGrid } from '../../src/io/resample.js';
import { axisCodes, toClosestCanonical, reorient } from '../../src/io/orientation.js';
import { applyAffine, affineToQuaternion, invertAffine, quaternionToAffine } from '../../src/io/affine.js';
import { createVolume, cropOrPad, sameGrid } from '../../src/io/volume.js';
import { fixture, flat, makeTempDir, maxAbsDiff, runPythonJson } from '../helpers.js';

describe('resampling onto another grid matches scipy.ndimage.map_coordinates', () => {
  test('labels, nearest neighbour, rotated and shifted grid: identical voxels', async () => {
    const labels = await readNifti(fixture('resample', 'labels.nii.gz'));
    const want = await readNifti(fixture('resample', 'labels_expected.nii.gz'));
    const got = resampleToGrid(labels, want, 'nearest');
    expect(got.data).toBeInstanceOf(Uint8Array);
    expect(sameGrid(got, want)).toBe(true);
    let differences = 0;
    for (let i = 0; i < got.data.length; i++) if (got.data[i] !== want.data[i]) differences++;
    expect(differences).toBe(0);
    expect(new Set(got.data)).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  test('image, trilinear: equal within float32 precision', async () => {
    const image = await readNifti(fixture('resample', 'image.nii.gz'));
    const want = await readNifti(fixture('resample', 'image_expected.nii.gz'));
    const got = resampleToGrid(image, want, 'linear');
    expect(maxAbsDiff(got.data, want.data)).toBeLessThan(1e-5);
  });

  test('resampling onto its own grid is the identity, also at the edges', async () => {
    const image = await readNifti(fixture('resample', 'image.nii.gz'));
    expect(maxAbsDiff(resampleToGrid(image, image, 'linear').data, image.data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(resampleToGrid(image, image, 'nearest').data, image.data)).toBe(0);
  });
});

describe("label interpolation (ANTs' GenericLabel[Linear])", () => {
  const identity = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
  const labels = createVolume(Uint8Array.of(1, 1, 2, 2, 1, 1, 2, 2), [4, 2, 1], identity);
  const sampleAt = (x: number) =>
    resampleToGrid(
      labels,
      createVolume(
        new Uint8Array(1),
        [1, 1, 1],
        [
          [1, 0, 0, x],
          [0, 1, 0, 0.5],
          [0, 0, 1, 0],
          [0, 0, 0, 1],
        ],
      ),
      'label',
    ).data[0];

  test('the label with the larger interpolated weight wins; the datatype is kept', () => {
    expect(sampleAt(1.4)).toBe(1);
    expect(sampleAt(1.6)).toBe(2);
    expect(resampleToGrid(labels, labels, 'label').data).toEqual(labels.data);
  });

  test('with three labels around a point, the largest summed weight wins, not the nearest voxel', () => {
    // at (0.45, 0.5): voxel (0,0) labelled 3 is nearest, but label 5 holds 0.55·0.5 + 0.45·0.5 + … more weight
    const mixed = createVolume(Uint8Array.of(3, 5, 5, 5), [2, 2, 1], identity);
    const target = createVolume(
      new Uint8Array(1),
      [1, 1, 1],
      [
        [1, 0, 0, 0.45],
        [0, 1, 0, 0.45],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    );
    expect(resampleToGrid(mixed, target, 'nearest').data[0]).toBe(3);
    expect(resampleToGrid(mixed, target, 'label').data[0]).toBe(5);
  });
});

describe('resampling through a displacement field', () => {
  test('a constant field equals resampling onto the grid moved by that vector', async () => {
    const image = await readNifti(fixture('resample', 'image.nii.gz'));
    const target = await readNifti(fixture('resample', 'image_expected.nii.gz'));
    const shift = [1.7, -2.2, 0.9];
    const count = target.data.length;
    const field = createVolume(new Float32Array(count * 3), [...target.shape, 3], target.affine);
    for (let c = 0; c < 3; c++) field.data.fill(shift[c], c * count, (c + 1) * count);
    const moved = target.affine.map((row, r) => (r < 3 ? [row[0], row[1], row[2], row[3] + shift[r]] : [...row]));
    for (const mode of ['linear', 'nearest'] as const) {
      const viaField = resampleThroughField(image, field, mode);
      const viaGrid = resampleToGrid(image, { ...target, affine: moved }, mode);
      expect(maxAbsDiff(viaField.data, viaGrid.data)).toBeLessThan(1e-5);
      expect(maxAbsDiff(flat(viaField.affine), flat(target.affine))).toBe(0);
    }
  });
});

describe('reorientation to the closest canonical (RAS+) orientation', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());

  test.each(['qform_only_qfac.nii.gz', 'sform_over_qform.nii.gz', 'dtype_int16.nii.gz', 'four_d.nii.gz'])(
    '%s matches nibabel.as_closest_canonical',
    async (name) => {
      const volume = await readNifti(fixture('nifti', name));
      const want = runPythonJson<{ codes: string; shape: number[]; affine: number[][]; data: number[] }>(
        'canonical.py',
        [fixture('nifti', name)],
      );
      expect(axisCodes(volume.affine)).toBe(want.codes);
      const { volume: canonical } = toClosestCanonical(volume);
      expect(canonical.shape).toEqual(want.shape);
      expect(maxAbsDiff(flat(canonical.affine), flat(want.affine))).toBeLessThan(1e-4);
      expect(maxAbsDiff(canonical.data, want.data)).toBe(0);
      expect(axisCodes(canonical.affine)).toBe('RAS');
    },
  );

  test('the inverse brings data and affine back exactly', async () => {
    const volume = await readNifti(fixture('nifti', 'qform_only_qfac.nii.gz'));
    const { volume: canonical, inverse } = toClosestCanonical(volume);
    const { volume: back } = reorient(canonical, inverse);
    expect(back.shape).toEqual(volume.shape);
    expect(Array.from(back.data)).toEqual(Array.from(volume.data));
    expect(maxAbsDiff(flat(back.affine), flat(volume.affine))).toBeLessThan(1e-9);
  });

  test('a voxel keeps its world position through reorientation', async () => {
    const volume = await readNifti(fixture('nifti', 'qform_only_qfac.nii.gz'));
    const { volume: canonical } = toClosestCanonical(volume);
    const target = 2 + 5 * (3 + 6 * 4);
    const world = applyAffine(volume.affine, [2, 3, 4]);
    const index = applyAffine(invertAffine(canonical.affine), world).map(Math.round);
    const [nx, ny] = canonical.shape;
    expect(canonical.data[index[0] + nx * (index[1] + ny * index[2])]).toBe(volume.data[target]);
  });
});

describe('crop and pad', () => {
  test('a window keeps world positions and pads with the fill value', () => {
    const affine = [
      [0, 2, 0, 5],
      [-1, 0, 0, 3],
      [0, 0, 3, -7],
      [0, 0, 0, 1],
    ];
    const data = Int16Array.from({ length: 4 * 5 * 6 }, (_, i) => i + 1);
    const volume = createVolume(data, [4, 5, 6], affine);
    const window = cropOrPad(volume, [-1, 2, 1], [3, 4, 2], -9);
    expect(window.shape).toEqual([3, 4, 2]);
    expect(window.data[0]).toBe(-9); // source x = -1: outside
    expect(window.data[1]).toBe(data[0 + 4 * (2 + 5 * 1)]);
    expect(window.data[3 * 3 + 1]).toBe(-9); // source y = 5: outside
    expect(maxAbsDiff(applyAffine(window.affine, [1, 0, 0]), applyAffine(volume.affine, [0, 2, 1]))).toBeLessThan(
      1e-12,
    );
    const back = cropOrPad(cropOrPad(volume, [-2, -2, -2], [8, 9, 10]), [2, 2, 2], [4, 5, 6]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
    expect(maxAbsDiff(flat(back.affine), flat(affine))).toBeLessThan(1e-12);
  });
});

describe('qform quaternion conversions', () => {
  test('affine → quaternion → affine for rigid grids of both handedness', () => {
    for (const affine of [
      [
        [0.9, -0.3, 0.1, 1],
        [0.3, 0.95, 0.05, 2],
        [-0.1, 0, 1, 3],
        [0, 0, 0, 1],
      ],
      [
        [0, 0, -2, 1],
        [1.5, 0, 0, 2],
        [0, 1, 0, 3],
        [0, 0, 0, 1],
      ],
      [
        [-1, 0, 0, 0],
        [0, -1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    ]) {
      const { quaternion, spacing } = affineToQuaternion(affine);
      const back = quaternionToAffine(quaternion, spacing);
      const rigid = affineToQuaternion(back);
      expect(maxAbsDiff(flat(quaternionToAffine(rigid.quaternion, rigid.spacing)), flat(back))).toBeLessThan(1e-9);
    }
    const exact = [
      [0, 0, -2, 1],
      [1.5, 0, 0, 2],
      [0, 1, 0, 3],
      [0, 0, 0, 1],
    ];
    const { quaternion, spacing } = affineToQuaternion(exact);
    expect(maxAbsDiff(flat(quaternionToAffine(quaternion, spacing)), flat(exact))).toBeLessThan(1e-12);
  });

  test('written and re-read, a reoriented volume keeps its affine', async () => {
    const dir = makeTempDir();
    try {
      const volume = await readNifti(fixture('nifti', 'qform_only_qfac.nii.gz'));
      const { volume: canonical } = toClosestCanonical(volume);
      const path = join(dir.path, 'canonical.nii.gz');
      await writeNifti(path, canonical, { datatype: 'int16' });
      const back = await readNifti(path);
      expect(maxAbsDiff(flat(back.affine), flat(canonical.affine))).toBeLessThan(1e-4);
    } finally {
      dir.remove();
    }
  });
});
