import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Mat4 } from '../../src/io/affine.js';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { createVolume } from '../../src/io/volume.js';
import { normaliseMinPercentile } from '../../src/data/intensity.js';
import { initBackend } from '../../src/engine/backend.js';
import { saveModel } from '../../src/model/model-file.js';
import { writeSafetensors } from '../../src/model/safetensors.js';
import { Random } from '../../src/runtime/random.js';
import { flagArgs, interruptAfterProgress, makeTempDir, runCli, runPythonJson } from '../helpers.js';
import { keepLargestComponents } from '../../src/infer/largest-component.js';
import { thresholdLabels, thresholdModel } from '../infer/threshold-model.js';

const thresholds = [0.25, 0.5, 0.75];

/** An image whose normalised intensities are multiples of 1/63, none near a threshold. */
async function writeImage(path: string, shape: number[], affine: Mat4, seed: number): Promise<Float32Array> {
  const random = new Random(seed);
  const data = Float32Array.from(
    { length: shape[0] * shape[1] * shape[2] * (shape[3] ?? 1) },
    () => random.integer(0, 63) + 0.5,
  );
  data[0] = 0.5;
  data.fill(63.5, data.length - 8);
  mkdirSync(dirname(path), { recursive: true });
  await writeNifti(path, createVolume(data, shape, affine), { datatype: 'float32' });
  return data;
}

/** The files a user sees (the hidden record of the model and case locks aside), report.html among them. */
const visible = (folder: string) =>
  readdirSync(folder)
    .filter((name) => !name.startsWith('.'))
    .sort();

const oblique: Mat4 = [
  [0.9, -0.2, 0.1, -20],
  [0.15, 1.1, 0.05, 12],
  [-0.1, 0.02, 1.4, 30],
  [0, 0, 0, 1],
];
const lps: Mat4 = [
  [-1, 0, 0, 40],
  [0, -1.5, 0, 30],
  [0, 0, 2, -10],
  [0, 0, 0, 1],
];

describe('longiseg predict', () => {
  const dir = makeTempDir();
  const model = join(dir.path, 'model.safetensors');
  const images = join(dir.path, 'imagesTs');
  const inputs = new Map<string, Float32Array>();
  afterAll(() => dir.remove());

  beforeAll(async () => {
    await initBackend('wasm');
    await saveModel(model, thresholdModel(thresholds));
    await saveModel(join(dir.path, 'two-channel.safetensors'), thresholdModel(thresholds, ['T1w', 'T2w']));
    inputs.set('oblique', await writeImage(join(images, 'oblique_0000.nii.gz'), [37, 29, 21], oblique, 1));
    inputs.set('lps', await writeImage(join(images, 'lps_0000.nii.gz'), [20, 18, 17], lps, 2));
    inputs.set('plain', await writeImage(join(images, 'plain_0000.nii'), [16, 16, 16], oblique, 3));
  });

  const expectedLabels = (name: string) => [
    ...thresholdLabels(normaliseMinPercentile(inputs.get(name)!, 99.99), thresholds),
  ];

  test('labels every case as the known network says, on the input grid, with and without --tta', async () => {
    for (const tta of [false, true]) {
      const out = join(dir.path, tta ? 'preds-tta' : 'preds');
      const result = runCli([
        'predict',
        '--model',
        model,
        '--input',
        images,
        '--out',
        out,
        '--patch',
        '16',
        '--log-format',
        'json',
        ...(tta ? ['--tta'] : []),
      ]);
      expect(result.stderr).toContain('3 cases predicted, 0 skipped');
      expect(result.status).toBe(0);
      for (const name of inputs.keys())
        expect([...(await readNifti(join(out, `${name}.nii.gz`))).data]).toEqual(expectedLabels(name));
    }
  });

  test('one case spreads its windows over --threads workers, with the same labels as one thread', async () => {
    const labels = [];
    for (const threads of ['1', '2']) {
      const out = join(dir.path, `threads-${threads}`);
      const result = runCli(
        flagArgs('predict', {
          model,
          input: join(images, 'oblique_0000.nii.gz'),
          out,
          patch: '16',
          threads,
          'log-format': 'json',
        }),
      );
      expect(result.status).toBe(0);
      expect(result.stderr).toContain(`${threads} worker threads`);
      labels.push([...(await readNifti(join(out, 'oblique.nii.gz'))).data]);
    }
    expect(labels[1]).toEqual(labels[0]);
    expect(labels[0]).toEqual(expectedLabels('oblique'));
  });

  test("--keep-largest keeps each class's largest region: the classes given, all, or those the model recorded", async () => {
    const withRecord = join(dir.path, 'with-postprocessing.safetensors');
    await saveModel(withRecord, thresholdModel(thresholds), {
      metadata: { postprocessing: JSON.stringify({ keep_largest: [2] }) },
    });
    const shape = [37, 29, 21] as const;
    const expected = (classes: number[]) => {
      const labels = Uint8Array.from(expectedLabels('oblique'));
      keepLargestComponents(labels, [...shape], classes);
      return [...labels];
    };
    const cases: [string, string | undefined, number[]][] = [
      [model, undefined, []],
      [model, '3', [3]],
      [model, 'all', [1, 2, 3]],
      [withRecord, undefined, [2]],
      [withRecord, 'none', []],
    ];
    for (const [file, keepLargest, classes] of cases) {
      const out = join(dir.path, `largest-${keepLargest}-${file === model ? 'plain' : 'recorded'}`);
      const result = runCli(
        flagArgs('predict', {
          model: file,
          input: join(images, 'oblique_0000.nii.gz'),
          out,
          patch: '16',
          ...(keepLargest && { 'keep-largest': keepLargest }),
          'log-format': 'json',
        }),
      );
      expect(result.status).toBe(0);
      const labels = [...(await readNifti(join(out, 'oblique.nii.gz'))).data];
      expect(labels).toEqual(expected(classes));
      if (classes.length > 0) expect(labels).not.toEqual(expectedLabels('oblique'));
    }
    const wrong = runCli(flagArgs('predict', { model, input: images, out: join(dir.path, 'x'), 'keep-largest': '4' }));
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain(
      '--keep-largest "4" must be model, all, none or foreground labels of the model (1 to 3)',
    );
  });

  test('the label maps keep the input geometry exactly, as nibabel reads it, in the smallest integer type', () => {
    const files = [...inputs.keys()].flatMap((name) => [
      join(images, `${name}_0000.nii${name === 'plain' ? '' : '.gz'}`),
      join(dir.path, 'preds', `${name}.nii.gz`),
    ]);
    const described = runPythonJson<Record<string, Record<string, unknown>>>('describe_nifti.py', files);
    for (let i = 0; i < files.length; i += 2) {
      const [input, output] = [described[files[i]], described[files[i + 1]]];
      for (const key of ['shape', 'affine', 'qform', 'sform', 'qform_code', 'sform_code', 'zooms', 'xyzt_units'])
        expect([key, output[key]]).toEqual([key, input[key]]);
      expect(output.datatype).toBe('uint8');
    }
  });

  test('--probabilities writes one frame per class that sums to 1 and agrees with the labels', async () => {
    const out = join(dir.path, 'probabilities');
    const result = runCli(
      flagArgs('predict', {
        model,
        input: join(images, 'lps_0000.nii.gz'),
        out,
        patch: '16',
        probabilities: true,
        'log-format': 'json',
      }),
    );
    expect(result.status).toBe(0);
    const probabilities = await readNifti(join(out, 'lps_probabilities.nii.gz'));
    const labels = await readNifti(join(out, 'lps.nii.gz'));
    expect(probabilities.shape).toEqual([20, 18, 17, 4]);
    const voxels = labels.data.length;
    for (let v = 0; v < voxels; v += 97) {
      const p = [0, 1, 2, 3].map((k) => probabilities.data[k * voxels + v]);
      expect(p.reduce((a, b) => a + b)).toBeCloseTo(1, 5);
      expect(p.indexOf(Math.max(...p))).toBe(labels.data[v]);
    }
  });

  test('shards cover every case exactly once, from --shard or the SLURM array variables', () => {
    const out = join(dir.path, 'sharded');
    const logs = [0, 1].map(
      (i) =>
        runCli(
          flagArgs('predict', {
            model,
            input: images,
            out,
            patch: '16',
            shard: `${i}/2`,
            'log-format': 'json',
          }),
        ).stderr,
    );
    expect(logs[0]).toContain('2 cases predicted');
    expect(logs[1]).toContain('1 cases predicted');
    expect(visible(out)).toEqual(['lps.nii.gz', 'oblique.nii.gz', 'plain.nii.gz', 'report.html']);
    const slurm = join(dir.path, 'slurm');
    for (const id of ['1', '2', '3']) {
      const result = runCli(
        ['predict', '--model', model, '--input', images, '--out', slurm, '--patch', '16', '--log-format', 'json'],
        {
          env: { SLURM_ARRAY_TASK_ID: id, SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1' },
        },
      );
      expect(result.stderr).toContain('1 cases predicted');
    }
    expect(visible(slurm)).toEqual(['lps.nii.gz', 'oblique.nii.gz', 'plain.nii.gz', 'report.html']);
  });

  test('existing outputs are skipped with --continue and never replaced unasked', () => {
    const args = [
      'predict',
      '--model',
      model,
      '--input',
      images,
      '--out',
      join(dir.path, 'preds'),
      '--patch',
      '16',
      '--log-format',
      'json',
    ];
    const refused = runCli(args);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/3 of the outputs exist already .*--continue .*--overwrite/);
    const resumed = runCli([...args, '--continue']);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toContain('0 cases predicted, 3 skipped');
  });

  test('a BIDS tree gives a BIDS derivative; its derivatives/ are not inputs', async () => {
    const bids = join(dir.path, 'bids');
    const name = (session: string, suffix: string) =>
      join(bids, 'sub-01', `ses-${session}`, 'anat', `sub-01_ses-${session}_${suffix}.nii.gz`);
    inputs.set('ses-01', await writeImage(name('01', 'T1w'), [18, 17, 16], lps, 4));
    await writeImage(name('02', 'T1w'), [18, 17, 16], lps, 5);
    await writeImage(
      join(bids, 'derivatives', 'labels', 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_T1w.nii.gz'),
      [16, 16, 16],
      lps,
      6,
    );
    const out = join(bids, 'derivatives', 'longiseg');
    const result = runCli(flagArgs('predict', { model, input: bids, out, patch: '16', 'log-format': 'json' }));
    expect(result.stderr).toContain('2 cases predicted');
    expect(result.status).toBe(0);
    expect([...(await readNifti(join(out, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_dseg.nii.gz'))).data]).toEqual(
      expectedLabels('ses-01'),
    );
    expect(existsSync(join(out, 'sub-01', 'ses-02', 'anat', 'sub-01_ses-02_dseg.nii.gz'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'dataset_description.json'), 'utf8'))).toMatchObject({
      DatasetType: 'derivative',
      GeneratedBy: [{ Name: 'longiseg' }],
    });
    expect(readFileSync(join(out, 'dseg.tsv'), 'utf8')).toBe(
      'index\tname\n0\tbackground\n1\tclass1\n2\tclass2\n3\tclass3\n',
    );

    // a two-channel model: ses-01 gets a T2w, ses-02 has none and fails alone, naming its file
    await writeImage(name('01', 'T2w'), [18, 17, 16], lps, 7);
    const two = runCli(
      flagArgs('predict', {
        model: join(dir.path, 'two-channel.safetensors'),
        input: bids,
        out: join(dir.path, 'two'),
        patch: '16',
        'log-format': 'json',
      }),
    );
    expect(two.status).toBe(3);
    expect(two.stderr).toContain('1 cases predicted, 0 skipped (outputs existed), 1 failed');
    expect(two.stderr).toContain(`${name('02', 'T1w')}: has no T2w image next to it`);
  });

  test('SIGTERM stops between windows with exit 5 and leaves no partial output', async () => {
    const folder = join(dir.path, 'big');
    await writeImage(join(folder, 'big_0000.nii.gz'), [96, 96, 96], lps, 10);
    const out = join(dir.path, 'interrupted');
    const { code } = await interruptAfterProgress(
      ['predict', '--model', model, '--input', folder, '--out', out, '--patch', '16', '--workers', '1'],
      'SIGTERM',
    );
    expect(code).toBe(5);
    expect(visible(out)).toEqual([]);
  });

  test('a second model into the same --out is refused, unless --overwrite (which says what stays of the first)', async () => {
    const out = join(dir.path, 'one-model');
    const other = join(dir.path, 'other-model.safetensors');
    await saveModel(other, thresholdModel([0.3, 0.5, 0.7]));
    expect(
      runCli(['predict', '--model', model, '--input', join(images, 'lps_0000.nii.gz'), '--out', out, '--patch', '16'])
        .status,
    ).toBe(0);
    const second = runCli(
      flagArgs('predict', { model: other, input: join(images, 'plain_0000.nii'), out, patch: '16' }),
    );
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(`${out} holds predictions of another model (${model}, sha256 `);
    expect(visible(out)).toEqual(['lps.nii.gz', 'report.html']);
    const replaced = runCli(
      flagArgs('predict', {
        model: other,
        input: join(images, 'plain_0000.nii'),
        out,
        patch: '16',
        overwrite: true,
        'log-format': 'json',
      }),
    );
    expect(replaced.status).toBe(0);
    expect(replaced.stderr).toContain(
      `${out} held predictions of another model (${model}): the cases of this run are replaced, the others stay as they were`,
    );
  });

  test('a case another job is predicting is left to it (exit 6 naming the holder); --wait waits for it', () => {
    const out = join(dir.path, 'shared-out');
    mkdirSync(join(out, '.locks'), { recursive: true });
    // a live process of this host holds the lock of one case for about 3 seconds
    const holder = spawn('sleep', ['3']);
    writeFileSync(
      join(out, '.locks', 'lps.nii.gz.lock'),
      `${JSON.stringify({ host: hostname(), pid: holder.pid, time: new Date().toISOString() })}\n`,
    );
    const args = [
      'predict',
      '--model',
      model,
      '--input',
      images,
      '--out',
      out,
      '--patch',
      '16',
      '--log-format',
      'json',
    ];
    const left = runCli(args);
    expect(left.status).toBe(6);
    expect(left.stderr).toContain(
      `1 cases are being predicted by another job (lps: host ${hostname()}, process ${holder.pid}`,
    );
    expect(visible(out)).toEqual(['oblique.nii.gz', 'plain.nii.gz', 'report.html']);
    const waited = runCli([...args, '--continue', '--wait']);
    expect(waited.status).toBe(0);
    expect(waited.stderr).toContain('1 cases predicted, 2 skipped');
    expect(visible(out)).toEqual(['lps.nii.gz', 'oblique.nii.gz', 'plain.nii.gz', 'report.html']);
  }, 60_000);

  describe('bad input', () => {
    test('a file that is not a longiseg model', async () => {
      const notModel = join(dir.path, 'other.safetensors');
      await writeSafetensors(notModel, new Map(), { format: 'pt' });
      for (const [file, problem] of [
        [notModel, 'is not a longiseg model'],
        [join(dir.path, 'missing.safetensors'), 'no such file'],
        [join(images, 'lps_0000.nii.gz'), 'is not a safetensors file'],
      ]) {
        const result = runCli(['predict', '--model', file, '--input', images, '--out', join(dir.path, 'x')]);
        expect(result.status).toBe(3);
        expect(result.stderr).toContain(`${file}: ${problem}`);
      }
    });

    test('when every case fails, no derivative files are written; a 2D image fails its case', async () => {
      const bids = join(dir.path, 'flat-bids');
      const flat = join(bids, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_T1w.nii.gz');
      await writeImage(flat, [16, 16, 1], lps, 11);
      const out = join(dir.path, 'flat-out');
      const result = runCli(['predict', '--model', model, '--input', bids, '--out', out, '--patch', '16']);
      expect(result.status).toBe(3);
      expect(result.stderr).toContain(`${flat}: is 2D (16×16×1) where a 3D volume is required`);
      expect(visible(out)).toEqual([]);
    });

    test('a 4D image fails its case, naming the file, and the others are still predicted', async () => {
      const folder = join(dir.path, 'with4d');
      await writeImage(join(folder, 'series_0000.nii.gz'), [16, 16, 16, 3], lps, 8);
      await writeImage(join(folder, 'ok_0000.nii.gz'), [16, 16, 16], lps, 9);
      const result = runCli(
        flagArgs('predict', {
          model,
          input: folder,
          out: join(dir.path, 'with4d-out'),
          patch: '16',
          'log-format': 'json',
        }),
      );
      expect(result.status).toBe(3);
      expect(result.stderr).toContain(`${join(folder, 'series_0000.nii.gz')}: is 4D (16×16×16×3)`);
      expect(visible(join(dir.path, 'with4d-out'))).toEqual(['ok.nii.gz', 'report.html']);
    });

    test('an output folder that cannot be written, a patch the network cannot take, a bad shard', () => {
      const blocker = join(dir.path, 'a-file');
      writeFileSync(blocker, '');
      const blocked = runCli(['predict', '--model', model, '--input', images, '--out', join(blocker, 'out')]);
      expect(blocked.status).toBe(3);
      expect(blocked.stderr).toContain(`${join(blocker, 'out')}: cannot be written as the output folder`);
      const patch = runCli(flagArgs('predict', { model, input: images, out: join(dir.path, 'p'), patch: '24' }));
      expect(patch.status).toBe(2);
      expect(patch.stderr).toContain('multiple of 16');
      const shard = runCli(flagArgs('predict', { model, input: images, out: join(dir.path, 'p'), shard: '2/2' }));
      expect(shard.status).toBe(2);
      expect(shard.stderr).toContain('0 ≤ i < n');
    });
  });
});
