import { cpSync, existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { flagArgs, makeTempDir, runCli, synthTinyStudy } from '../helpers.js';

/** Renames sub-OLD to sub-NEW everywhere below `root` (folders and file names). */
function renameSubject(root: string, from: string, to: string): void {
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    const renamed = join(root, entry.name.replace(`sub-${from}`, `sub-${to}`));
    if (entry.isDirectory()) renameSubject(path, from, to);
    if (renamed !== path) renameSync(path, renamed);
  }
}

describe('BIDS inputs: entity rules, one file per session, outputs never read back as inputs', () => {
  const dir = makeTempDir();
  const study = join(dir.path, 'study');
  afterAll(() => dir.remove());

  beforeAll(() => {
    synthTinyStudy(study, { subjects: '2', labels: 'tissue' });
  });

  test('sub-pat-01 and sub-pat-02 are not read as one subject "pat": exit 3 naming the file', () => {
    const raw = join(dir.path, 'dashed');
    cpSync(join(study, 'raw'), raw, { recursive: true });
    renameSubject(raw, '01', 'pat-01');
    renameSubject(raw, '02', 'pat-02');
    const result = runCli(['preprocess', '--bids', raw, '--out', join(dir.path, 'dashed-out'), '--no-deformable']);
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(
      /sub-pat-0\d_ses-0\d_(T1w|dseg)\.nii\.gz: is not a valid BIDS name: "sub-pat-0\d" is not a BIDS entity/,
    );
  }, 120_000);

  test('--data at the study root (raw and registered trees below it): exit 3 naming both copies of a session', () => {
    const result = runCli(['pretrain', '--config', 'small', '--data', study, '--out', join(dir.path, 'mixed')]);
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('is a second T1w image of sub-01 ses-01 (the first: ');
    expect(result.stderr).toContain(join(study, 'raw', 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_T1w.nii.gz'));
    expect(result.stderr).toContain(join(study, 'registered', 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_T1w.nii.gz'));
    expect(existsSync(join(dir.path, 'mixed', 'latest.safetensors'))).toBe(false);
  }, 120_000);

  test('preprocess --out inside the raw dataset is refused (exit 2); inside its derivatives/ it is the BIDS place', () => {
    const raw = join(dir.path, 'raw-copy');
    cpSync(join(study, 'raw'), raw, { recursive: true });
    for (const out of [raw, join(raw, 'registered')]) {
      const result = runCli(['preprocess', '--bids', raw, '--out', out, '--no-deformable']);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(
        `the raw dataset --bids ${raw}; write to ${join(raw, 'derivatives', 'registered')} or outside it`,
      );
    }
    expect(readdirSync(raw).sort()).toEqual([
      'dataset_description.json',
      'derivatives',
      'participants.tsv',
      'sub-01',
      'sub-02',
    ]);
    const inside = runCli(
      flagArgs('preprocess', {
        bids: raw,
        out: join(raw, 'derivatives', 'registered'),
        deformable: false,
        quiet: true,
      }),
    );
    expect(inside.status).toBe(0);
    // a second run reads the raw sessions only, not the outputs below derivatives/
    const again = runCli(
      flagArgs('preprocess', {
        bids: raw,
        out: join(raw, 'derivatives', 'registered'),
        deformable: false,
        overwrite: true,
        'log-format': 'json',
      }),
    );
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('2 subjects done');
  }, 300_000);
});
