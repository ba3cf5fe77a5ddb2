import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { readNifti, writeNifti, smallestLabelType, type DataTypeName } from '../../src/io/nifti.js';
import { createVolume } from '../../src/io/volume.js';
import { InputError } from '../../src/runtime/errors.js';
import { fixture, flat, makeTempDir, maxAbsDiff, python, runPythonJson } from '../helpers.js';

interface Described {
  shape: number[];
  datatype: string;
  qform_code: number;
  sform_code: number;
  affine: number[][];
  qform: number[][];
  sform?: number[][];
  zooms?: number[];
  data: number[];
}

const expected = JSON.parse(readFileSync(fixture('nifti', 'expected.json'), 'utf8')) as Record<string, Described>;

describe('reading files written by nibabel', () => {
  test.each(Object.keys(expected))('%s: same values, shape and standard affine', async (name) => {
    const want = expected[name];
    const volume = await readNifti(fixture('nifti', name));
    expect(volume.shape).toEqual(want.shape);
    expect(volume.xforms.qformCode).toBe(want.qform_code);
    expect(volume.xforms.sformCode).toBe(want.sform_code);
    expect(maxAbsDiff(flat(volume.affine), flat(want.affine))).toBeLessThan(1e-5);
    expect(maxAbsDiff(volume.data, want.data)).toBeLessThan(1e-4);
  });

  test('qfac −1 gives a left-handed qform (negative determinant)', async () => {
    const volume = await readNifti(fixture('nifti', 'qform_only_qfac.nii.gz'));
    expect(volume.xforms.quaternion.qfac).toBe(-1);
    const a = volume.affine;
    const det =
      a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
      a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
      a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    expect(det).toBeLessThan(0);
  });

  test('pixdim-only headers use the pixdim scaling of NIfTI method 1', async () => {
    const volume = await readNifti(fixture('nifti', 'pixdim_only.nii.gz'));
    expect(flat(volume.affine).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([
      0.8, 0, 0, 0, 0, 0.9, 0, 0, 0, 0, 1.1, 0, 0, 0, 0, 1,
    ]);
  });
});

describe('round trips: longiseg writes, longiseg and nibabel read back', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());
  const datatypes: DataTypeName[] = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64'];

  test.each(
    datatypes.flatMap((d) => [
      [d, '.nii.gz'],
      [d, '.nii'],
    ]),
  )('%s %s', async (datatype, extension) => {
    const source = await readNifti(fixture('nifti', `dtype_${datatype}.nii.gz`));
    const path = join(dir.path, `rt_${datatype}${extension}`);
    await writeNifti(path, source, { datatype: datatype as DataTypeName });
    const back = await readNifti(path);
    expect(back.data.constructor).toBe(source.data.constructor);
    expect(Array.from(back.data)).toEqual(Array.from(source.data));
    expect(flat(back.affine)).toEqual(flat(source.affine).map((v) => Math.fround(v)));
    const nib = runPythonJson<Record<string, Described>>('describe_nifti.py', [path])[path];
    expect(nib.datatype).toBe(datatype);
    expect(nib.shape).toEqual(source.shape);
    expect(maxAbsDiff(nib.data, source.data)).toBe(0);
    expect(maxAbsDiff(flat(nib.affine), flat(expected[`dtype_${datatype}.nii.gz`].affine))).toBeLessThan(1e-5);
  });

  test.each([
    'sform_only.nii',
    'qform_only_qfac.nii.gz',
    'sform_over_qform.nii.gz',
    'pixdim_only.nii.gz',
    'four_d.nii.gz',
    'nifti2.nii.gz',
    'big_endian.nii',
  ])('geometry of %s survives (codes, qform, sform, zooms)', async (name) => {
    const source = await readNifti(fixture('nifti', name));
    const path = join(dir.path, `geom_${name.replace(/\.nii(\.gz)?$/, '')}.nii.gz`);
    await writeNifti(path, source, { datatype: 'float64' });
    const [ours, theirs] = [path, fixture('nifti', name)].map(
      (p) => runPythonJson<Record<string, Described>>('describe_nifti.py', [p])[p],
    );
    expect(ours.shape).toEqual(theirs.shape);
    expect(ours.qform_code).toBe(theirs.qform_code);
    expect(ours.sform_code).toBe(theirs.sform_code);
    expect(maxAbsDiff(flat(ours.qform), flat(theirs.qform))).toBeLessThan(1e-5);
    expect(maxAbsDiff(flat(ours.sform!), flat(theirs.sform!))).toBeLessThan(1e-5);
    expect(maxAbsDiff(flat(ours.affine), flat(theirs.affine))).toBeLessThan(1e-5);
    expect(maxAbsDiff(ours.zooms!, theirs.zooms!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(ours.data, theirs.data)).toBeLessThan(1e-9);
  });

  test('a new volume from an affine is read by nibabel with that affine', async () => {
    const affine = [
      [0, -1.2, 0, 40],
      [0, 0, 1.5, -20],
      [-0.9, 0, 0, 10],
      [0, 0, 0, 1],
    ];
    const data = Float32Array.from({ length: 4 * 5 * 6 }, (_, i) => i * 0.5);
    const path = join(dir.path, 'new.nii.gz');
    await writeNifti(path, createVolume(data, [4, 5, 6], affine));
    const nib = runPythonJson<Record<string, Described>>('describe_nifti.py', [path])[path];
    expect(maxAbsDiff(flat(nib.affine), flat(affine))).toBeLessThan(1e-5);
    expect(maxAbsDiff(flat(nib.qform), flat(affine))).toBeLessThan(1e-5);
    expect(maxAbsDiff(nib.data, data)).toBe(0);
  });

  test('the smallest label datatype is chosen from the values', () => {
    expect(smallestLabelType(Uint8Array.of(0, 3, 255))).toBe('uint8');
    expect(smallestLabelType(Int32Array.of(0, 300))).toBe('int16');
    expect(smallestLabelType(Int32Array.of(-1, 3))).toBe('int16');
    expect(smallestLabelType(Int32Array.of(0, 70000))).toBe('int32');
  });
});

describe('bad input: a clear InputError naming the file', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());
  const good = readFileSync(fixture('nifti', 'sform_only.nii'));

  async function failure(name: string, bytes: Uint8Array, options = {}): Promise<InputError> {
    const path = join(dir.path, name);
    writeFileSync(path, bytes);
    try {
      await readNifti(path, options);
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message.startsWith(path)).toBe(true);
      return error as InputError;
    }
    throw new Error(`${name} was accepted`);
  }

  test('not a NIfTI file', async () => {
    expect((await failure('text.nii', Buffer.from('hello world '.repeat(40)))).message).toMatch(/not a NIfTI file/);
  });

  test('truncated .nii.gz', async () => {
    const gz = gzipSync(good);
    expect((await failure('cut.nii.gz', gz.subarray(0, gz.length - 40))).message).toMatch(/truncated or corrupt gzip/);
  });

  test('wrong sizeof_hdr', async () => {
    const bytes = Buffer.from(good);
    bytes.writeInt32LE(350, 0);
    expect((await failure('size.nii', bytes)).message).toMatch(/sizeof_hdr 350, expected 348/);
  });

  test('dimensions larger than the data', async () => {
    const bytes = Buffer.from(good);
    bytes.writeInt16LE(70, 42 + 2 * 2);
    expect((await failure('dims.nii', bytes)).message).toMatch(/need \d+ bytes of voxel data.*holds \d+/);
  });

  test('unsupported datatypes are named', async () => {
    const bytes = Buffer.from(good);
    bytes.writeInt16LE(32, 70);
    bytes.writeInt16LE(64, 72);
    expect((await failure('complex.nii', bytes)).message).toMatch(/datatype complex64/);
    bytes.writeInt16LE(128, 70);
    bytes.writeInt16LE(24, 72);
    expect((await failure('rgb.nii', bytes)).message).toMatch(/datatype RGB24/);
  });

  test('4D where 3D is required', async () => {
    const four = readFileSync(fixture('nifti', 'four_d.nii.gz'));
    expect((await failure('four.nii.gz', four, { require3D: true })).message).toMatch(/is 4D \(4×3×5×3\)/);
  });

  test('a missing file is named', async () => {
    await expect(readNifti(join(dir.path, 'absent.nii.gz'))).rejects.toThrow(
      `${join(dir.path, 'absent.nii.gz')}: no such file`,
    );
  });

  test('NaN voxels: an image is refused with the count unless --nan-to-num replaces them with 0; a label map is refused', async () => {
    const data = new Float32Array(24).fill(1);
    data[3] = NaN;
    data[7] = Infinity;
    const path = join(dir.path, 'nan.nii');
    await writeNifti(
      path,
      createVolume(
        data,
        [2, 3, 4],
        [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
          [0, 0, 0, 1],
        ],
      ),
    );
    await expect(readNifti(path, { kind: 'image' })).rejects.toThrow(
      `${path}: holds 2 NaN or infinite voxels (of 24); fix the image, or pass --nan-to-num to replace them with 0`,
    );
    const warnings: string[] = [];
    const replaced = await readNifti(path, { kind: 'image', nanToNum: true, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([`${path}: replaced 2 NaN or infinite voxels (of 24) with 0 (--nan-to-num)`]);
    expect([replaced.data[3], replaced.data[7], replaced.data[8]]).toEqual([0, 0, 1]);
    await expect(readNifti(path, { kind: 'label' })).rejects.toThrow(
      `${path}: label map holds 2 NaN or infinite voxels`,
    );
  });

  test('a singular sform is refused, naming the file (not a later "the affine is singular")', async () => {
    const bytes = Buffer.from(good);
    for (let col = 0; col < 4; col++) bytes.writeFloatLE(0, 280 + 2 * 16 + col * 4);
    expect((await failure('singular.nii', bytes)).message).toMatch(
      /has a singular sform affine \(determinant 0\): its voxels have no positions in space/,
    );
  });

  test('a vox_offset inside the header is refused (nibabel refuses it too)', async () => {
    const bytes = Buffer.from(good);
    bytes.writeFloatLE(200, 108);
    const error = await failure('offset.nii', bytes);
    expect(error.message).toMatch(/vox_offset 200 lies inside the 352-byte NIfTI-1 header/);
    const nibabel = spawnSync(
      python,
      ['-c', 'import sys, nibabel; nibabel.load(sys.argv[1]).get_fdata()', join(dir.path, 'offset.nii')],
      { encoding: 'utf8' },
    );
    expect(nibabel.status).not.toBe(0);
    expect(nibabel.stderr).toMatch(/vox offset 200 too low/);
  });

  test('a failed write (value out of the datatype range) leaves no file and no temporary', async () => {
    const volume = await readNifti(fixture('nifti', 'sform_only.nii'));
    const data = Float32Array.from(volume.data);
    data[0] = 1e6;
    await expect(
      writeNifti(join(dir.path, 'labels.nii.gz'), { ...volume, data }, { datatype: 'uint8' }),
    ).rejects.toThrow(/does not fit datatype uint8/);
    expect(existsSync(join(dir.path, 'labels.nii.gz'))).toBe(false);
    expect(readdirSync(dir.path).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
