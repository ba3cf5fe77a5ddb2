import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { createVolume } from '../../src/io/volume.js';
import { resampleToGrid } from '../../src/io/resample.js';
import { makeTempDir, runCli } from '../helpers.js';

/** Mean Dice over the structures present in either map. */
function meanDice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const dices: number[] = [];
  for (let k = 1; k <= 17; k++) {
    let [both, na, nb] = [0, 0, 0];
    for (let v = 0; v < a.length; v++) {
      if (a[v] === k) na++;
      if (b[v] === k) nb++;
      if (a[v] === k && b[v] === k) both++;
    }
    if (na + nb > 0) dices.push((2 * both) / (na + nb));
  }
  return dices.reduce((x, y) => x + y) / dices.length;
}

describe('longiseg preprocess with the elastix command line', () => {
  const dir = makeTempDir();
  const study = join(dir.path, 'study');
  const raw = join(study, 'raw');
  const out = join(dir.path, 'registered');
  const labelsOf = (root: string, subject: string, session: string, suffix = '_space-subject') => join(root, 'derivatives', 'labels', `sub-${subject}`, `ses-${session}`, 'anat', `sub-${subject}_ses-${session}${suffix}_dseg.nii.gz`);
  afterAll(() => dir.remove());

  beforeAll(() => {
    expect(runCli(['synth', '--out', study, '--subjects', '2', '--sessions', '2', '--cohort', 'aging', '--shape', '48,64,48', '--voxel-mm', '3', '--quiet']).status).toBe(0);
  });

  test('every subject\'s sessions land in one space: labels agree (Dice ≥ 0.8), better than as scanned', async () => {
    const result = runCli(['preprocess', '--bids', raw, '--out', out, '--labels', 'derivatives/labels', '--log-format', 'json']);
    expect(result.stderr).toContain('2 subjects done, 0 skipped');
    expect(result.status).toBe(0);
    for (const subject of ['01', '02']) {
      const [a, b] = await Promise.all(['01', '02'].map((s) => readNifti(labelsOf(out, subject, s))));
      const registered = meanDice(a.data, b.data);
      // the raw sessions in world coordinates, as they were scanned (random head positions)
      const [ra, rb] = await Promise.all(['01', '02'].map((s) => readNifti(labelsOf(raw, subject, s, ''))));
      const unregistered = meanDice(ra.data, resampleToGrid(rb, ra, 'nearest').data);
      expect(registered).toBeGreaterThan(0.8);
      expect(registered).toBeGreaterThan(unregistered + 0.05);
      const qc = JSON.parse(readFileSync(join(out, `sub-${subject}`, 'qc.json'), 'utf8'));
      // a session already close to the template may lose a little correlation to interpolation; none is far off
      for (const session of Object.values<{ ncc_before: number; ncc_after: number }>(qc.sessions)) expect(session.ncc_after).toBeGreaterThan(0.95);
      const done = JSON.parse(readFileSync(join(out, `sub-${subject}`, 'done.json'), 'utf8'));
      expect(done).toMatchObject({ tool: 'elastix', sessions: ['01', '02'] });
    }
    expect(existsSync(join(out, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_space-subject_T1w.nii.gz'))).toBe(true);
    expect(existsSync(join(out, 'sub-01', 'sub-01_sessions.tsv'))).toBe(true);
  }, 600_000);

  test('a rerun skips finished subjects and redoes only an unfinished one', () => {
    rmSync(join(out, 'sub-02', 'done.json'));
    const result = runCli(['preprocess', '--bids', raw, '--out', out, '--labels', 'labels', '--no-deformable', '--log-format', 'json']);
    expect(result.stderr).toContain('1 subjects done, 1 skipped');
    expect(result.status).toBe(0);
  }, 300_000);

  test('a shard takes every n-th subject', () => {
    const result = runCli(['preprocess', '--bids', raw, '--out', join(dir.path, 'shard'), '--no-deformable', '--shard', '1/2', '--log-format', 'json']);
    expect(result.stderr).toContain('1 subjects done');
    expect(existsSync(join(dir.path, 'shard', 'sub-02', 'done.json'))).toBe(true);
    expect(existsSync(join(dir.path, 'shard', 'sub-01'))).toBe(false);
  }, 300_000);

  test('an elastix that exits 0 without writing its outputs is caught: exit 4 naming tool, stage, subject and log', () => {
    const fake = join(dir.path, 'fake-bin');
    mkdirSync(fake);
    for (const tool of ['elastix', 'transformix']) {
      writeFileSync(join(fake, tool), `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "${tool} version: 5.0.1"; fi\nexit 0\n`);
      chmodSync(join(fake, tool), 0o755);
    }
    const result = runCli(['preprocess', '--bids', raw, '--out', join(dir.path, 'fake'), '--subjects', 'sub-01', '--log-format', 'json'], { env: { PATH: `${fake}:${process.env.PATH}` } });
    expect(result.status).toBe(4);
    expect(result.stderr).toMatch(/elastix \(sub-01 ses-01 affine to the template, affine\) exited without writing .*TransformParameters\.0\.txt; see the logs in/);
    expect(readFileSync(join(dir.path, 'fake', 'preprocess_failed.tsv'), 'utf8')).toMatch(/^participant_id\terror\nsub-01\t/);
    expect(existsSync(join(dir.path, 'fake', 'sub-01', 'done.json'))).toBe(false);
  });

  test('bad input: a 4D template, an unknown subject, a missing label derivative', async () => {
    const template = join(dir.path, 'template4d.nii.gz');
    await writeNifti(template, createVolume(new Float32Array(8 * 8 * 8 * 2), [8, 8, 8, 2], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]));
    const fourD = runCli(['preprocess', '--bids', raw, '--out', join(dir.path, 'x'), '--template', template]);
    expect(fourD.status).toBe(3);
    expect(fourD.stderr).toContain(`${template}: is 4D (8×8×8×2) where a 3D volume is required`);
    const unknown = runCli(['preprocess', '--bids', raw, '--out', join(dir.path, 'x'), '--subjects', 'sub-09']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('sub-09 not in');
    const labels = runCli(['preprocess', '--bids', raw, '--out', join(dir.path, 'x'), '--labels', 'derivatives/manual']);
    expect(labels.status).toBe(3);
    expect(labels.stderr).toContain('manual: no such folder');
  });
});
