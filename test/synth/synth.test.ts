import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readNifti } from '../../src/io/nifti.js';
import { resampleThroughField } from '../../src/io/resample.js';
import { sessionDice } from '../../src/metrics/longitudinal.js';
import { flagArgs, interruptAfterProgress, makeTempDir, runCli, runPythonJson } from '../helpers.js';

function hashTree(root: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hashes[relative(root, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(root);
  return hashes;
}

function sessionsOf(study: string, subject: string): string[] {
  return readdirSync(join(study, 'raw', `sub-${subject}`))
    .filter((name) => name.startsWith('ses-'))
    .map((name) => name.slice(4))
    .sort();
}

const labelPath = (study: string, tree: string, subject: string, session: string) =>
  join(
    study,
    tree,
    'derivatives',
    'labels',
    `sub-${subject}`,
    `ses-${session}`,
    'anat',
    `sub-${subject}_ses-${session}_dseg.nii.gz`,
  );
const imagePath = (study: string, tree: string, subject: string, session: string) =>
  join(study, tree, `sub-${subject}`, `ses-${session}`, 'anat', `sub-${subject}_ses-${session}_T1w.nii.gz`);

describe('longiseg synth', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());
  const studies: Record<string, string> = {};

  beforeAll(() => {
    for (const cohort of ['infant', 'aging']) {
      studies[cohort] = join(dir.path, cohort);
      const result = runCli(
        flagArgs('synth', {
          out: studies[cohort],
          subjects: '2',
          sessions: '3',
          cohort,
          seed: '5',
          quiet: true,
        }),
      );
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    }
  });

  test('writes the BIDS layout: raw, labels derivative, registered, truth, tables', () => {
    const study = studies.infant;
    for (const path of [
      'synth.json',
      'raw/dataset_description.json',
      'raw/participants.tsv',
      'raw/sub-01/sub-01_sessions.tsv',
      'raw/sub-01/ses-01/anat/sub-01_ses-01_T1w.nii.gz',
      'raw/derivatives/labels/dseg.tsv',
      'raw/derivatives/labels/dataset_description.json',
      'raw/derivatives/labels/sub-02/ses-03/anat/sub-02_ses-03_dseg.nii.gz',
      'registered/sub-02/ses-03/anat/sub-02_ses-03_T1w.nii.gz',
      'registered/derivatives/labels/sub-02/ses-03/anat/sub-02_ses-03_dseg.nii.gz',
      'registered/sub-02/sub-02_sessions.tsv',
      'truth/sub-01/ses-02/sub-01_ses-02_to-subject_displacement.nii.gz',
      'truth/sub-01/ses-02/sub-01_ses-02_to-subject_xfm.json',
    ]) {
      expect(existsSync(join(study, path))).toBe(true);
    }
    const sessions = readFileSync(join(study, 'raw/sub-01/sub-01_sessions.tsv'), 'utf8').trim().split('\n');
    expect(sessions[0]).toBe('session_id\tage\tage_months');
    expect(sessions).toHaveLength(4);
    const description = JSON.parse(readFileSync(join(study, 'raw/dataset_description.json'), 'utf8'));
    expect(description).toMatchObject({ BIDSVersion: '1.9.0', DatasetType: 'raw' });
    expect(readFileSync(join(study, 'raw/derivatives/labels/dseg.tsv'), 'utf8').split('\n')[0]).toBe('index\tname');
  });

  test('nibabel reads every file; all images share one consistent right-handed grid', () => {
    const report = runPythonJson<{ files: number; problems: string[]; affines: Record<string, string[]> }>(
      'check_bids_tree.py',
      [studies.aging],
    );
    expect(report.problems).toEqual([]);
    expect(report.files).toBe(2 * 3 * 5);
    expect(Object.keys(report.affines)).toHaveLength(1);
  });

  test('registered labels of one subject agree across sessions (Dice >= 0.9 per label)', async () => {
    for (const study of Object.values(studies)) {
      for (const subject of ['01', '02']) {
        const sessions = sessionsOf(study, subject);
        const first = await readNifti(labelPath(study, 'registered', subject, sessions[0]));
        for (const session of sessions.slice(1)) {
          const other = await readNifti(labelPath(study, 'registered', subject, session));
          const dice = sessionDice(other, first);
          expect([...dice.keys()]).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
          expect(Math.min(...dice.values())).toBeGreaterThanOrEqual(0.9);
        }
      }
    }
  });

  // structures of 1–2 mL are 120–250 voxels at 2 mm: one resampling costs them up to about 0.12 Dice
  test('raw labels warped by the stored true transforms match the registered labels (mean Dice >= 0.9, each >= 0.85)', async () => {
    for (const study of Object.values(studies)) {
      for (const subject of ['01']) {
        for (const session of sessionsOf(study, subject)) {
          const raw = await readNifti(labelPath(study, 'raw', subject, session));
          const registered = await readNifti(labelPath(study, 'registered', subject, session));
          const field = await readNifti(
            join(
              study,
              'truth',
              `sub-${subject}`,
              `ses-${session}`,
              `sub-${subject}_ses-${session}_to-subject_displacement.nii.gz`,
            ),
          );
          const dice = [...sessionDice(resampleThroughField(raw, field, 'label'), registered).values()];
          expect(dice.reduce((a, b) => a + b) / dice.length).toBeGreaterThanOrEqual(0.9);
          expect(Math.min(...dice)).toBeGreaterThanOrEqual(0.85);
          // without the transform the maps disagree clearly: the check has teeth
          const unwarped = [...sessionDice(raw, registered).values()];
          expect(unwarped.reduce((a, b) => a + b) / unwarped.length).toBeLessThan(0.8);
        }
      }
    }
  }, 180_000);

  test('infant contrast: mean WM − mean GM changes sign from the youngest to the oldest session', async () => {
    const study = studies.infant;
    for (const subject of ['01', '02']) {
      const sessions = sessionsOf(study, subject);
      const contrast = async (session: string) => {
        const image = await readNifti(imagePath(study, 'raw', subject, session));
        const labels = await readNifti(labelPath(study, 'raw', subject, session));
        const sums = [0, 0, 0];
        const counts = [0, 0, 0];
        for (let i = 0; i < labels.data.length; i++) {
          if (labels.data[i] === 1 || labels.data[i] === 2) {
            sums[labels.data[i]] += image.data[i];
            counts[labels.data[i]]++;
          }
        }
        return sums[2] / counts[2] - sums[1] / counts[1];
      };
      expect(await contrast(sessions[0])).toBeLessThan(0);
      expect(await contrast(sessions[sessions.length - 1])).toBeGreaterThan(0);
    }
  });

  test('aging: the ventricles enlarge from the first to the last session', async () => {
    const study = studies.aging;
    const sessions = sessionsOf(study, '01');
    const ventricles = async (session: string) => {
      const labels = await readNifti(labelPath(study, 'registered', '01', session));
      let count = 0;
      for (const v of labels.data) if (v === 4 || v === 5) count++;
      return count;
    };
    expect(await ventricles(sessions[2])).toBeGreaterThan((await ventricles(sessions[0])) * 1.02);
  });

  test('deterministic: the same seed gives identical bytes, another seed differs', () => {
    const a = join(dir.path, 'a');
    const b = join(dir.path, 'b');
    const c = join(dir.path, 'c');
    const args = ['--subjects', '2', '--sessions', '2', '--shape', '48,64,48', '--voxel-mm', '4', '--quiet'];
    expect(runCli(['synth', '--out', a, '--seed', '3', ...args]).status).toBe(0);
    expect(runCli(['synth', '--out', b, '--seed', '3', '--workers', '1', ...args]).status).toBe(0);
    expect(runCli(['synth', '--out', c, '--seed', '4', ...args]).status).toBe(0);
    const [ha, hb, hc] = [a, b, c].map(hashTree);
    expect(Object.keys(ha).length).toBeGreaterThan(20);
    expect(hb).toEqual(ha);
    expect(hc['raw/sub-01/ses-01/anat/sub-01_ses-01_T1w.nii.gz']).not.toBe(
      ha['raw/sub-01/ses-01/anat/sub-01_ses-01_T1w.nii.gz'],
    );
  });

  test('SIGINT mid-run: exit 5, nothing at --out and no staging folder left', async () => {
    const out = join(dir.path, 'interrupted');
    const { code, stderr } = await interruptAfterProgress(
      ['synth', '--out', out, '--subjects', '6', '--sessions', '3', '--workers', '1'],
      'SIGINT',
    );
    expect(code).toBe(5);
    expect(stderr).toContain('interrupted by SIGINT');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir.path).filter((name) => name.startsWith('interrupted'))).toEqual([]);
  });

  describe('bad input', () => {
    test.each([
      [['--subjects', '0'], 'subjects: must be >= 1, got number 0'],
      [['--sessions', '4-2'], '--sessions 4-2: the range must go from the smaller to the larger count'],
      [
        ['--shape', '100,112,96'],
        '--shape 100,112,96: every dimension must be a multiple of 16, because the U-Net halves the grid four times',
      ],
      [['--cohort', 'teen'], 'Invalid values'],
    ])('%j is refused (exit 2)', (args, message) => {
      const result = runCli(['synth', '--out', join(dir.path, 'never'), ...args]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
      expect(existsSync(join(dir.path, 'never'))).toBe(false);
    });

    test('an existing non-empty --out is refused unless --overwrite, and kept intact', () => {
      const out = join(dir.path, 'mine');
      mkdirSync(out);
      writeFileSync(join(out, 'notes.txt'), 'precious');
      const refused = runCli(['synth', '--out', out, '--subjects', '1', '--shape', '48,48,48', '--voxel-mm', '4']);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(`${out} exists and is not empty; choose another --out or pass --overwrite`);
      expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('precious');
      const replaced = runCli(
        flagArgs('synth', {
          out,
          subjects: '1',
          shape: '48,48,48',
          'voxel-mm': '4',
          overwrite: true,
          quiet: true,
        }),
      );
      expect(replaced.status).toBe(0);
      expect(existsSync(join(out, 'synth.json'))).toBe(true);
      expect(readdirSync(dir.path).filter((name) => name.includes('.partial-') || name.includes('.previous-'))).toEqual(
        [],
      );
    });
  });
});
