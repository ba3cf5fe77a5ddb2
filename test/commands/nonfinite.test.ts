import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { nonFiniteTensors, readSafetensors, writeSafetensors } from '../../src/model/safetensors.js';
import { flagArgs, makeTempDir, runCli, synthTinyStudy } from '../helpers.js';

const finetuneConfig = (lr: number) => `preset: small
model: { base_width: 4 }
crop: 16
batch: 1
steps: 12
constant_steps: 12
validate_every: 6
validation_volumes: 1
save_every: 1
optimizer: { lr: ${lr} }
lcs: { every: 1 }
split: { validation_subjects: [sub-04], test_subjects: [] }
`;

const imageOf = (root: string, subject: string, session: string) =>
  join(root, `sub-${subject}`, `ses-${session}`, 'anat', `sub-${subject}_ses-${session}_T1w.nii.gz`);

describe('NaN and infinite values never pass silently', () => {
  const dir = makeTempDir();
  const study = join(dir.path, 'study');
  const data = join(study, 'registered');
  const withNan = join(dir.path, 'nan');
  const config = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };
  afterAll(() => dir.remove());

  beforeAll(async () => {
    synthTinyStudy(study, { labels: 'tissue' });
    cpSync(data, withNan, { recursive: true });
    const path = imageOf(withNan, '02', '01');
    const image = await readNifti(path);
    image.data[1000] = NaN;
    image.data[1001] = Infinity;
    await writeNifti(path, image);
  });

  test('a NaN voxel in a training image: exit 3 naming the file and the count; --nan-to-num replaces and says so', () => {
    const path = imageOf(withNan, '02', '01');
    for (const kind of ['pretrain', 'finetune']) {
      const refused = runCli([
        kind,
        '--config',
        'small',
        '--data',
        withNan,
        '--out',
        join(dir.path, `${kind}-nan`),
        '--max-steps',
        '1',
      ]);
      expect(refused.status).toBe(3);
      expect(refused.stderr).toContain(
        `${path}: holds 2 NaN or infinite voxels (of 32768); fix the image, or pass --nan-to-num to replace them with 0`,
      );
    }
    const replaced = runCli(
      flagArgs('finetune', {
        config: config('ok.yaml', finetuneConfig(0.001)),
        data: withNan,
        out: join(dir.path, 'finetune-nan-to-num'),
        'max-steps': '1',
        'nan-to-num': true,
        'log-format': 'json',
      }),
    );
    expect(replaced.status).toBe(0);
    expect(replaced.stderr).toContain(`${path}: replaced 2 NaN or infinite voxels (of 32768) with 0 (--nan-to-num)`);
  }, 300_000);

  test('a NaN voxel at predict: that case fails with exit 3, the others are written; --nan-to-num segments it', () => {
    const model = join(dir.path, 'finetune-nan-to-num', 'best.safetensors');
    const out = join(dir.path, 'predictions');
    const failed = runCli(
      flagArgs('predict', {
        model,
        input: [join(withNan, 'sub-02'), join(withNan, 'sub-03')],
        out,
        'log-format': 'json',
      }),
    );
    expect(failed.status).toBe(3);
    expect(failed.stderr).toContain('holds 2 NaN or infinite voxels');
    expect(existsSync(join(out, 'sub-02', 'ses-01', 'anat', 'sub-02_ses-01_dseg.nii.gz'))).toBe(false);
    expect(existsSync(join(out, 'sub-03', 'ses-01', 'anat', 'sub-03_ses-01_dseg.nii.gz'))).toBe(true);
    const replaced = runCli(
      flagArgs('predict', {
        model,
        input: join(withNan, 'sub-02'),
        out: join(dir.path, 'predictions-num'),
        'nan-to-num': true,
        'log-format': 'json',
      }),
    );
    expect(replaced.status).toBe(0);
    expect(replaced.stderr).toContain('replaced 2 NaN or infinite voxels');
  }, 300_000);

  test('a diverging run stops with exit 4 and keeps the last finite latest.safetensors', async () => {
    const out = join(dir.path, 'diverged');
    // Adam steps of 500 blow the weights up after a few steps (step 8 with this seed and data)
    const result = runCli(
      flagArgs('finetune', {
        config: config('huge-lr.yaml', finetuneConfig(500)),
        data,
        out,
        labeled: 'sub-01',
      }),
    );
    expect(result.status).toBe(4);
    const match =
      /step (\d+): training diverged: a gradient holds NaN or infinite values at optimiser update \d+; latest\.safetensors keeps step (\d+), the last finite state/.exec(
        result.stderr,
      );
    expect(match).not.toBeNull();
    const [failed, kept] = [Number(match![1]), Number(match![2])];
    expect(kept).toBe(failed - 1);
    expect(kept).toBeGreaterThan(1);
    const latest = await readSafetensors(join(out, 'latest.safetensors'));
    expect(JSON.parse(latest.metadata.state).step).toBe(kept);
    expect(nonFiniteTensors(latest.tensors)).toEqual([]);
  }, 300_000);

  test('predict refuses a model holding NaN weights (exit 3, naming the file and the tensor)', async () => {
    const good = join(dir.path, 'finetune-nan-to-num', 'best.safetensors');
    const { tensors, metadata } = await readSafetensors(good);
    const weight = tensors.get('model.3.weight')!;
    (weight.data as Float32Array)[5] = NaN;
    const broken = join(dir.path, 'broken.safetensors');
    await writeSafetensors(broken, tensors, metadata);
    const result = runCli(
      flagArgs('predict', { model: broken, input: join(data, 'sub-03'), out: join(dir.path, 'never') }),
    );
    expect(result.status).toBe(3);
    expect(result.stderr).toContain(
      `${broken}: holds NaN or infinite weights (1 values in model.3.weight): the training that wrote it diverged; use an earlier checkpoint`,
    );
    expect(existsSync(join(dir.path, 'never'))).toBe(false);
  }, 120_000);
});
