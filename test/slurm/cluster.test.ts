import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.js';
import { saveModel } from '../../src/model/model-file.js';
import { flagArgs, makeTempDir, runCli } from '../helpers.js';
import { thresholdModel } from '../infer/threshold-model.js';

/**
 * On a real single-node SLURM cluster (.ci/run starts one with .ci/slurm/start-slurm.sh and sets
 * LONGISEG_TEST_SLURM=1; without it the suite is skipped): preprocess as a 4-task array, predict as a
 * 2-task array after it, evaluate after that.
 */
const cluster = process.env.LONGISEG_TEST_SLURM === '1' ? describe : describe.skip;

function waitForJobs(ids: string[], timeoutSeconds: number): void {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    const queued = execFileSync('squeue', ['-h', '-j', ids.join(',')], { encoding: 'utf8' }).trim();
    if (queued === '') return;
    execFileSync('sleep', ['1']);
  }
  throw new Error(
    `jobs ${ids.join(', ')} still queued after ${timeoutSeconds} s:\n${execFileSync('squeue', { encoding: 'utf8' })}`,
  );
}

cluster('longiseg slurm on a real SLURM cluster', () => {
  const dir = makeTempDir();
  const raw = join(dir.path, 'study', 'raw');
  const submit = (args: string[]) => {
    const result = runCli(['slurm', ...args], { cwd: dir.path });
    expect(result.stderr).not.toContain('error');
    expect(result.status).toBe(0);
    return result.stdout.trim();
  };
  afterAll(() => dir.remove());

  beforeAll(async () => {
    expect(
      runCli(
        flagArgs('synth', {
          out: join(dir.path, 'study'),
          subjects: '4',
          sessions: '2',
          cohort: 'aging',
          labels: 'tissue',
          shape: '32,48,32',
          'voxel-mm': '4',
          quiet: true,
        }),
      ).status,
    ).toBe(0);
    await initBackend('wasm');
    await saveModel(join(dir.path, 'model.safetensors'), thresholdModel([0.2, 0.5, 0.8]));
  });

  test('preprocess (4-task array) → predict (2-task array) → evaluate, chained with afterok', () => {
    const preprocess = submit([
      'preprocess',
      '--array',
      '4',
      '--cpus',
      '1',
      '--submit',
      '--',
      '--bids',
      'study/raw',
      '--out',
      'registered',
      '--labels',
      'derivatives/labels',
      '--no-deformable',
    ]);
    const predict = submit([
      'predict',
      '--array',
      '2',
      '--cpus',
      '1',
      '--after',
      preprocess,
      '--submit',
      '--',
      '--model',
      'model.safetensors',
      '--input',
      'registered',
      '--out',
      'predictions',
    ]);
    const evaluate = submit([
      'evaluate',
      '--cpus',
      '1',
      '--after',
      predict,
      '--submit',
      '--',
      '--pred',
      'predictions',
      '--ref',
      'registered/derivatives/labels',
      '--longitudinal',
      '--out',
      'evaluation',
    ]);
    waitForJobs([preprocess, predict, evaluate], 600);
    const logs = readdirSync(join(dir.path, 'slurm-logs'));
    expect(logs.filter((name) => name.startsWith(`longiseg-preprocess-${preprocess}_`)).sort()).toEqual(
      [0, 1, 2, 3].map((task) => `longiseg-preprocess-${preprocess}_${task}.out`),
    );
    for (const subject of ['01', '02', '03', '04']) {
      expect(existsSync(join(dir.path, 'registered', `sub-${subject}`, 'done.json'))).toBe(true);
      for (const session of ['01', '02']) {
        expect(
          existsSync(
            join(
              dir.path,
              'predictions',
              `sub-${subject}`,
              `ses-${session}`,
              'anat',
              `sub-${subject}_ses-${session}_space-subject_dseg.nii.gz`,
            ),
          ),
        ).toBe(true);
      }
    }
    // each array task took its own subjects: task k registered sub-0(k+1) only
    const task2 = readFileSync(join(dir.path, 'slurm-logs', `longiseg-preprocess-${preprocess}_2.out`), 'utf8');
    expect(task2).toContain('sub-03');
    expect(task2).not.toContain('sub-01: done');
    const summary = JSON.parse(readFileSync(join(dir.path, 'evaluation', 'summary.json'), 'utf8'));
    expect(summary.longitudinal.session_pairs).toBe(4);
    expect(summary.foreground_mean.Dice).toBeGreaterThan(0);
  }, 660_000);

  test('a task whose subject fails: the other tasks finish, the failed subject is listed for resubmission', () => {
    const bad = join(raw, 'sub-02', 'ses-02', 'anat', 'sub-02_ses-02_T1w.nii.gz');
    writeFileSync(bad, 'not a NIfTI file');
    const job = submit([
      'preprocess',
      '--array',
      '2',
      '--cpus',
      '1',
      '--submit',
      '--',
      '--bids',
      'study/raw',
      '--out',
      'registered-failing',
      '--no-deformable',
      '--subjects',
      'sub-01,sub-02',
    ]);
    waitForJobs([job], 300);
    expect(existsSync(join(dir.path, 'registered-failing', 'sub-01', 'done.json'))).toBe(true);
    expect(existsSync(join(dir.path, 'registered-failing', 'sub-02', 'done.json'))).toBe(false);
    const failed = readFileSync(join(dir.path, 'registered-failing', 'preprocess_failed_shard-1.tsv'), 'utf8');
    expect(failed).toMatch(/^participant_id\terror\nsub-02\t.*sub-02_ses-02_T1w\.nii\.gz/);
  }, 360_000);
});
