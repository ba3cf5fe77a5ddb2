import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Mat4 } from '../../src/io/affine.js';
import { readNifti } from '../../src/io/nifti.js';
import { createVolume } from '../../src/io/volume.js';
import { antsAffineArgs, antsComposeFieldArgs, antsSynArgs, n4Args } from '../../src/registration/ants-cli.js';
import { elastixChainField } from '../../src/registration/elastix-transform.js';
import { readItkMatTransform } from '../../src/registration/itk-mat.js';
import { toItkImage } from '../../src/registration/itk-image.js';
import {
  formatParameterFile,
  itkAffineToRas,
  lpsFieldToRas,
  parseParameterFile,
} from '../../src/registration/itk-transform.js';
import { fixture, makeTempDir, maxAbsDiff, onPath } from '../helpers.js';

describe('ANTs affine transform files', () => {
  const expected = JSON.parse(readFileSync(fixture('registration', 'expected.json'), 'utf8')) as {
    ras: Mat4;
    parameters: number[];
    centre: number[];
  };

  test.each([
    ['ants_0GenericAffine.mat', 'AffineTransform_double_3_3', 1e-12],
    ['ants_float_0GenericAffine.mat', 'AffineTransform_float_3_3', 1e-5],
  ])('%s (MATLAB v4 from scipy) reads as the RAS matrix numpy computed', (file, type, tolerance) => {
    const transform = readItkMatTransform(readFileSync(fixture('registration', file)))!;
    expect(transform.type).toBe(type);
    expect(maxAbsDiff(transform.parameters, expected.parameters)).toBeLessThan(tolerance);
    const ras = itkAffineToRas(transform.parameters, transform.fixed);
    expect(maxAbsDiff(ras.flat(), expected.ras.flat())).toBeLessThan(tolerance * 100);
  });

  test('a file that is not a transform is refused, not misread', () => {
    expect(readItkMatTransform(new Uint8Array(0))).toBeUndefined();
    expect(readItkMatTransform(new TextEncoder().encode('#Insight Transform File V1.0\n'))).toBeUndefined();
    expect(
      readItkMatTransform(readFileSync(fixture('registration', 'ants_0GenericAffine.mat')).subarray(0, 100)),
    ).toBeUndefined();
  });
});

describe('elastix transform chains', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());

  (onPath('transformix') ? test : test.skip)(
    'the field evaluated from an affine + B-spline chain equals transformix -def all on an oblique grid',
    async () => {
      const theta = 0.3;
      const affine: Mat4 = [
        [2.5 * Math.cos(theta), -2 * Math.sin(theta), 0, -20],
        [2.5 * Math.sin(theta), 2 * Math.cos(theta), 0, 14],
        [0, 0, 3, -9],
        [0, 0, 0, 1],
      ];
      const shape = [14, 12, 10];
      const grid = createVolume(new Float32Array(14 * 12 * 10), shape, affine);
      const image = toItkImage(grid);
      const output = {
        Size: image.size,
        Spacing: image.spacing,
        Origin: image.origin,
        Direction: [0, 1, 2].flatMap((column) => [0, 1, 2].map((row) => Number(image.direction[3 * row + column]))),
        Index: [0, 0, 0],
        ResultImageFormat: 'nii.gz',
        ResultImagePixelType: 'float',
        FixedImageDimension: 3,
        MovingImageDimension: 3,
        UseDirectionCosines: 'true',
        HowToCombineTransforms: 'Compose',
      };
      const initial = join(dir.path, 'initial.txt');
      writeFileSync(
        initial,
        formatParameterFile({
          ...output,
          Transform: 'AffineTransform',
          NumberOfParameters: 12,
          TransformParameters: [1.05, 0.04, -0.03, 0.02, 0.97, 0.05, -0.04, 0.01, 1.02, 3, -2, 1.5],
          CenterOfRotationPoint: [5, -7, 2],
          InitialTransformParametersFileName: 'NoInitialTransform',
        }),
      );
      const gridSize = [7, 6, 6];
      const coefficients = Array.from({ length: 3 * 7 * 6 * 6 }, (_, i) => 4 * Math.sin(1.7 * i + 0.3));
      const bspline = join(dir.path, 'bspline.txt');
      writeFileSync(
        bspline,
        formatParameterFile({
          ...output,
          Transform: 'BSplineTransform',
          NumberOfParameters: coefficients.length,
          TransformParameters: coefficients,
          InitialTransformParametersFileName: initial,
          GridSize: gridSize,
          GridIndex: [0, 0, 0],
          GridSpacing: [9, 8.5, 7],
          GridOrigin: [-30, -40, -25],
          GridDirection: [
            0.9950041652780258, 0.09983341664682815, 0, -0.09983341664682815, 0.9950041652780258, 0, 0, 0, 1,
          ],
          BSplineTransformSplineOrder: 3,
          UseCyclicTransform: 'false',
        }),
      );
      execFileSync('transformix', ['-def', 'all', '-tp', bspline, '-out', dir.path], { stdio: 'ignore' });
      const transformix = lpsFieldToRas(await readNifti(join(dir.path, 'deformationField.nii.gz')));
      const chain = [initial, bspline].map((file) => parseParameterFile(readFileSync(file, 'utf8')));
      const mine = elastixChainField(chain, grid);
      expect(mine.shape).toEqual([...shape, 3]);
      expect(maxAbsDiff(mine.data, transformix.data)).toBeLessThan(1e-4);
      // the B-spline moves points by several mm, so the comparison has something to compare
      expect(maxAbsDiff(mine.data, elastixChainField([chain[0]], grid).data)).toBeGreaterThan(1);
    },
  );
});

describe('ANTs command lines', () => {
  /** A documented command line as one argument per element, bracket groups joined (ANTs reads "[ a, b ]" and "[a,b]" alike). */
  const argv = (line: string) =>
    line
      .replace(/\\\n/g, ' ')
      .replace(/\[\s*([^\]]*?)\s*\]/g, (_, inner: string) => `[${inner.replace(/\s*,\s*/g, ',')}]`)
      .trim()
      .split(/\s+/);

  test('affine: antsRegistrationSyN.sh -t a, plus a fixed --random-seed', () => {
    const documented = argv(`--verbose 1 --dimensionality 3 --float 0 --collapse-output-transforms 1 \\
      --output [ sub_to_tpl_, sub_to_tpl_Warped.nii.gz, sub_to_tpl_InverseWarped.nii.gz ] \\
      --interpolation Linear --use-histogram-matching 0 --winsorize-image-intensities [ 0.005,0.995 ] \\
      --initial-moving-transform [ template.nii.gz, t1.nii.gz, 1 ] \\
      --transform Rigid[ 0.1 ]  --metric MI[ template.nii.gz, t1.nii.gz, 1, 32, Regular, 0.25 ] \\
        --convergence [ 1000x500x250x100, 1e-6, 10 ] --shrink-factors 8x4x2x1 --smoothing-sigmas 3x2x1x0vox \\
      --transform Affine[ 0.1 ] --metric MI[ template.nii.gz, t1.nii.gz, 1, 32, Regular, 0.25 ] \\
        --convergence [ 1000x500x250x100, 1e-6, 10 ] --shrink-factors 8x4x2x1 --smoothing-sigmas 3x2x1x0vox`);
    expect(antsAffineArgs('template.nii.gz', 't1.nii.gz', 'sub_to_tpl_')).toEqual([
      ...documented,
      '--random-seed',
      '121212',
    ]);
  });

  test('SyN: the stage of antsRegistrationSyN.sh (step 0.2, CC radius 2, explicit) after the initial transform, single precision', () => {
    const documented = argv(`--verbose 1 --dimensionality 3 --float 1 --collapse-output-transforms 1 \\
      --output [ p_, p_Warped.nii.gz, p_InverseWarped.nii.gz ] \\
      --interpolation Linear --use-histogram-matching 0 --winsorize-image-intensities [ 0.005,0.995 ] \\
      --initial-moving-transform init.txt \\
      --transform SyN[ 0.2, 3, 0 ] --metric CC[ fixed.nii.gz, moving.nii.gz, 1, 2 ] --convergence [ 100x70x50x20, 1e-6, 10 ]
      --shrink-factors 8x4x2x1 --smoothing-sigmas 3x2x1x0vox`);
    expect(antsSynArgs('fixed.nii.gz', 'moving.nii.gz', 'init.txt', 'p_')).toEqual([
      ...documented,
      '--random-seed',
      '121212',
    ]);
  });

  test('the composed field: moving → fixed order (warp, then affine), written as a displacement field', () => {
    expect(antsComposeFieldArgs('fixed.nii.gz', 'p_', 'field.nii.gz')).toEqual(
      argv(
        '--dimensionality 3 --reference-image fixed.nii.gz --output [ field.nii.gz, 1 ] --transform p_1Warp.nii.gz --transform p_0GenericAffine.mat --float 1 --verbose 1',
      ),
    );
  });

  test('N4 as antsCorticalThickness.sh runs it, without a mask', () => {
    expect(n4Args('t1.nii.gz', 't1_n4.nii.gz')).toEqual(
      argv('-d 3 -i t1.nii.gz -s 4 -c [50x50x50x50,0.0000001] -b [200] -o t1_n4.nii.gz'),
    );
  });
});
