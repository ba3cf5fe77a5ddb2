import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readNifti } from '../../src/io/nifti.js';
import { labelMontage } from '../../src/report/montage.js';
import { labelColour } from '../../src/report/palette.js';
import { encodePng } from '../../src/report/raster.js';
import { canonicalVolume, type Convention } from '../../src/report/slices.js';
import { makeTempDir, python, repoRoot, runPythonJson } from '../helpers.js';

interface Reference {
  centre: number[];
  [view: string]: { gray: number[][]; labels: number[][] } | number[];
}

const VIEWS = ['sagittal', 'coronal', 'axial'];
/** The white gap between the views of a montage. */
const GAP = 4;

describe('a montage slice against the same slice computed by nibabel', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());
  const image = join(dir.path, 'image.nii.gz');
  const labels = join(dir.path, 'labels.nii.gz');
  execFileSync(python, [join(repoRoot, 'test', 'reference', 'slice_pictures.py'), 'make', image, labels]);

  test.each(['neurological', 'radiological'] as Convention[])(
    '%s: the same voxels in the same orientation, gray levels and label colours',
    async (convention) => {
      const reference = runPythonJson<Reference>('slice_pictures.py', ['slices', image, labels, convention]);
      const picture = labelMontage(
        canonicalVolume(await readNifti(image, { kind: 'image' })),
        canonicalVolume(await readNifti(labels, { kind: 'label' })),
        labelColour,
        { convention },
      );
      const png = PNG.sync.read(Buffer.from(encodePng(picture)));
      let left = 0;
      let labelled = 0;
      for (const view of VIEWS) {
        const { gray, labels: expected } = reference[view] as { gray: number[][]; labels: number[][] };
        for (let row = 0; row < gray.length; row++) {
          for (let column = 0; column < gray[0].length; column++) {
            const at = 4 * (left + column + png.width * row);
            const pixel = [png.data[at], png.data[at + 1], png.data[at + 2]];
            const level = gray[row][column];
            const label = expected[row][column];
            const colour = label === 0 ? [level, level, level] : labelColour(label).map((c) => (level + c) / 2);
            for (let c = 0; c < 3; c++) expect(Math.abs(pixel[c] - colour[c])).toBeLessThanOrEqual(1);
            if (label !== 0) labelled++;
          }
        }
        left += gray[0].length + GAP;
      }
      expect(png.width).toBe(left - GAP);
      expect(labelled).toBeGreaterThan(50);
    },
  );

  test('radiological is neurological mirrored left to right, except the sagittal view', () => {
    const neuro = runPythonJson<Reference>('slice_pictures.py', ['slices', image, labels, 'neurological']);
    const radio = runPythonJson<Reference>('slice_pictures.py', ['slices', image, labels, 'radiological']);
    const mirrored = (rows: number[][]) => rows.map((row) => [...row].reverse());
    const of = (r: Reference, view: string) => (r[view] as { labels: number[][] }).labels;
    expect(of(radio, 'axial')).toEqual(mirrored(of(neuro, 'axial')));
    expect(of(radio, 'axial')).not.toEqual(of(neuro, 'axial'));
    expect(of(radio, 'sagittal')).toEqual(of(neuro, 'sagittal'));
  });
});
