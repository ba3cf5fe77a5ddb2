import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Mat4 } from '../../src/io/affine.js';
import { AntsCli } from '../../src/registration/ants-cli.js';
import { readItkMatTransform } from '../../src/registration/itk-mat.js';
import { itkAffineToRas } from '../../src/registration/itk-transform.js';
import { fixture, makeTempDir } from '../helpers.js';

/**
 * What ANTs 2.5.4, built from source, wrote for longiseg's two antsRegistration calls and its
 * antsApplyTransforms call (test/reference/ants/record_ants_outputs.sh): one image and the same
 * voxels under a header moved by a known rigid map W, so the answer is W.
 */
const recorded = (name: string) => fixture('registration', 'ants-2.5', name);
const W = readFileSync(recorded('W.txt'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => line.trim().split(/\s+/).map(Number)) as Mat4;
const files = JSON.parse(readFileSync(recorded('files.json'), 'utf8')) as Record<'work-affine' | 'work-syn', string[]>;

const maxDiff = (a: Mat4, b: Mat4, columns: number[]) =>
  Math.max(...[0, 1, 2].flatMap((i) => columns.map((j) => Math.abs(a[i][j] - b[i][j]))));

describe("ANTs 2.5's real outputs, replayed", () => {
  const dir = makeTempDir();
  const path = process.env.PATH;
  afterAll(() => {
    process.env.PATH = path;
    dir.remove();
  });

  test('the affine call writes a double-precision .mat with a centre: read, it is the known map', () => {
    const transform = readItkMatTransform(readFileSync(recorded('affine_0GenericAffine.mat')))!;
    expect(transform.type).toBe('AffineTransform_double_3_3');
    expect(transform.fixed.some((value) => value !== 0)).toBe(true);
    const affine = itkAffineToRas(transform.parameters, transform.fixed);
    expect(maxDiff(affine, W, [0, 1, 2])).toBeLessThan(0.005);
    expect(maxDiff(affine, W, [3])).toBeLessThan(0.05); // mm
  });

  test('the SyN call (--float 1, --collapse-output-transforms 1) writes its initial transform back as 0GenericAffine, in single precision', () => {
    const transform = readItkMatTransform(readFileSync(recorded('syn_0GenericAffine.mat')))!;
    expect(transform.type).toBe('AffineTransform_float_3_3');
    const initial = readFileSync(recorded('syn_initial.txt'), 'utf8');
    const parameters = /Parameters: (.*)/.exec(initial)![1].split(' ').map(Number);
    transform.parameters.forEach((value, k) => expect(value).toBeCloseTo(parameters[k], 5));
    expect(transform.fixed).toEqual([0, 0, 0]);
  });

  test('AntsCli reads what the real tools leave: the affine is W, and fixed point p + u(p) is W p', async () => {
    // tools that leave exactly the files ANTs left, the real transforms and a block of the real field among them
    const bin = join(dir.path, 'bin');
    mkdirSync(bin);
    const tool = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!${process.execPath}\nconst fs = require('node:fs');\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    tool(
      'antsRegistration',
      `const syn = process.argv.includes('SyN[0.2,3,0]');
const files = ${JSON.stringify(files)}[syn ? 'work-syn' : 'work-affine'];
for (const file of files.filter((f) => f.startsWith('ants_')))
  file === 'ants_0GenericAffine.mat'
    ? fs.copyFileSync(syn ? ${JSON.stringify(recorded('syn_0GenericAffine.mat'))} : ${JSON.stringify(recorded('affine_0GenericAffine.mat'))}, file)
    : fs.writeFileSync(file, '');`,
    );
    tool(
      'antsApplyTransforms',
      `const output = process.argv[process.argv.indexOf('--output') + 1].replace(/^\\[|,1\\]$/g, '');
fs.copyFileSync(${JSON.stringify(recorded('syn_field_block.nii.gz'))}, output);`,
    );
    process.env.PATH = `${bin}:${path}`;
    const ants = new AntsCli('2.5.4', 1);
    const fixed = join(dir.path, 'fixed.nii.gz');
    copyFileSync(recorded('fixed_block.nii.gz'), fixed);
    const task = (work: string) => ({ fixed, moving: fixed, work: join(dir.path, work), stage: 'replay' });
    const affine = await ants.affine(task('affine'));
    expect(maxDiff(affine, W, [0, 1, 2])).toBeLessThan(0.005);
    expect(maxDiff(affine, W, [3])).toBeLessThan(0.05);

    const field = await ants.deformable({ ...task('syn'), initial: affine });
    const [nx, ny, nz] = field.shape;
    const voxels = nx * ny * nz;
    const A = field.affine;
    let worst = 0;
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          const v = x + nx * (y + ny * z);
          const p = [0, 1, 2].map((i) => A[i][0] * x + A[i][1] * y + A[i][2] * z + A[i][3]);
          const q = [0, 1, 2].map((i) => W[i][0] * p[0] + W[i][1] * p[1] + W[i][2] * p[2] + W[i][3]);
          worst = Math.max(worst, Math.hypot(...[0, 1, 2].map((c) => p[c] + field.data[v + c * voxels] - q[c])));
        }
    // the displacements are 7–9 mm long here: a wrong sign or axis would miss by twice that
    expect(worst).toBeLessThan(0.5);
  });
});
