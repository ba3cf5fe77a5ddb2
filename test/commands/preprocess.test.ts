import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { createVolume } from '../../src/io/volume.js';
import { reorient } from '../../src/io/orientation.js';
import { resampleToGrid } from '../../src/io/resample.js';
import { antsAffineArgs, n4Args } from '../../src/registration/ants-cli.js';
import { flagArgs, interruptAfterProgress, makeTempDir, onPath, runCli } from '../helpers.js';

/** Mean Dice over the structures present in either map. */
function meanDice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const dices: number[] = [];
  for (let k = 1; k <= 20; k++) {
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

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, as on CI), for the full-disk test. */
function canMountTmpfs(): boolean {
  const target = mkdtempSync(join(tmpdir(), 'longiseg-mount-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', target]).status === 0;
  if (mounted) spawnSync('umount', [target]);
  rmSync(target, { recursive: true });
  return mounted;
}

const labelsOf = (root: string, subject: string, session: string, suffix = '_space-subject') =>
  join(
    root,
    'derivatives',
    'labels',
    `sub-${subject}`,
    `ses-${session}`,
    'anat',
    `sub-${subject}_ses-${session}${suffix}_dseg.nii.gz`,
  );

/** A BIDS dataset at `to` holding one subject of `raw`, with its labels, to be altered by a test. */
function copySubject(raw: string, subject: string, to: string): void {
  cpSync(join(raw, `sub-${subject}`), join(to, `sub-${subject}`), { recursive: true });
  cpSync(join(raw, 'dataset_description.json'), join(to, 'dataset_description.json'));
  const labels = join(raw, 'derivatives', 'labels');
  cpSync(join(labels, `sub-${subject}`), join(to, 'derivatives', 'labels', `sub-${subject}`), { recursive: true });
  cpSync(join(labels, 'dseg.tsv'), join(to, 'derivatives', 'labels', 'dseg.tsv'));
}

/** Dice between the two sessions' labels of a subject in a preprocess output. */
async function sessionDice(out: string, subject: string): Promise<number> {
  const [a, b] = await Promise.all(['01', '02'].map((s) => readNifti(labelsOf(out, subject, s))));
  return meanDice(a.data, b.data);
}

// the elastix command line is what these compare against; where it is not installed they are skipped
const withElastix = onPath('elastix') && onPath('transformix') ? describe : describe.skip;

withElastix('longiseg preprocess with the elastix command line', () => {
  const dir = makeTempDir();
  const study = join(dir.path, 'study');
  const raw = join(study, 'raw');
  const out = join(dir.path, 'registered');
  const affineOnly = join(dir.path, 'affine');
  afterAll(() => dir.remove());

  beforeAll(() => {
    expect(
      runCli(
        flagArgs('synth', {
          out: study,
          subjects: '2',
          sessions: '2',
          cohort: 'aging',
          shape: '48,64,48',
          'voxel-mm': '3',
          quiet: true,
        }),
      ).status,
    ).toBe(0);
  });

  test("every subject's sessions land in one space: labels agree (Dice ≥ 0.8), better than as scanned", async () => {
    const result = runCli(
      flagArgs('preprocess', { bids: raw, out, labels: 'derivatives/labels', 'log-format': 'json' }),
    );
    expect(result.stderr).toContain('2 subjects done, 0 skipped');
    expect(result.status).toBe(0);
    for (const subject of ['01', '02']) {
      const registered = await sessionDice(out, subject);
      // the raw sessions in world coordinates, as they were scanned (random head positions)
      const [ra, rb] = await Promise.all(['01', '02'].map((s) => readNifti(labelsOf(raw, subject, s, ''))));
      const unregistered = meanDice(ra.data, resampleToGrid(rb, ra, 'nearest').data);
      expect(registered).toBeGreaterThan(0.8);
      expect(registered).toBeGreaterThan(unregistered + 0.05);
      const qc = JSON.parse(readFileSync(join(out, `sub-${subject}`, 'qc.json'), 'utf8'));
      // a session already close to the template may lose a little correlation to interpolation; none is far off
      for (const session of Object.values<{ ncc_before: number; ncc_after: number }>(qc.sessions))
        expect(session.ncc_after).toBeGreaterThan(0.95);
      const done = JSON.parse(readFileSync(join(out, `sub-${subject}`, 'done.json'), 'utf8'));
      expect(done).toMatchObject({ tool: 'elastix', bias_correction: 'longiseg N4', sessions: ['01', '02'] });
    }
    expect(existsSync(join(out, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_space-subject_T1w.nii.gz'))).toBe(true);
    expect(existsSync(join(out, 'sub-01', 'sub-01_sessions.tsv'))).toBe(true);
  }, 600_000);

  test('the sessions differ nonlinearly (synth --warp-mm): deformable registration is clearly better than affine alone', async () => {
    expect(
      runCli(['preprocess', '--bids', raw, '--out', affineOnly, '--labels', 'labels', '--no-deformable', '--quiet'])
        .status,
    ).toBe(0);
    for (const subject of ['01', '02'])
      expect(await sessionDice(out, subject)).toBeGreaterThan((await sessionDice(affineOnly, subject)) + 0.03);
  }, 300_000);

  test('sessions stored in other voxel orders and at other voxel sizes are registered as well', async () => {
    // sub-01 again, its second session stored in another axis order (y, z, x, two flipped) and at 4 mm
    const reoriented = join(dir.path, 'reoriented');
    copySubject(raw, '01', reoriented);
    const image = join(reoriented, 'sub-01', 'ses-02', 'anat', 'sub-01_ses-02_T1w.nii.gz');
    const labels = labelsOf(reoriented, '01', '02', '');
    const permuted = {
      axes: [1, 2, 0] as [number, number, number],
      flips: [true, false, true] as [boolean, boolean, boolean],
    };
    for (const [path, kind] of [
      [image, 'linear'],
      [labels, 'nearest'],
    ] as const) {
      const { volume } = reorient(await readNifti(path), permuted);
      const coarse = volume.affine.map((row, r) =>
        r < 3 ? [...row.slice(0, 3).map((v) => (v * 4) / 3), row[3]] : row,
      );
      const shape = volume.shape.map((n) => Math.ceil((n * 3) / 4));
      const grid = createVolume(new Float32Array(shape[0] * shape[1] * shape[2]), shape, coarse);
      await writeNifti(path, resampleToGrid(volume, grid, kind), kind === 'nearest' ? { datatype: 'uint8' } : {});
    }
    expect((await readNifti(image)).spacing.map((v) => +v.toFixed(3))).toEqual([4, 4, 4]);
    const registered = join(dir.path, 'reoriented-registered');
    const run = runCli(
      flagArgs('preprocess', { bids: reoriented, out: registered, labels: 'derivatives/labels', quiet: true }),
    );
    expect(run.status).toBe(0);
    // the same subject as stored alike above: Dice ≥ 0.8 there; the 4 mm session loses some to resampling
    expect(await sessionDice(registered, '01')).toBeGreaterThan(0.75);
  }, 300_000);

  test('a session whose field of view misses part of the head is registered with its partner', async () => {
    // sub-02 again, its second session's last quarter of slices along the third voxel axis cut away (image and labels)
    const cut = join(dir.path, 'cut');
    copySubject(raw, '02', cut);
    for (const path of [
      join(cut, 'sub-02', 'ses-02', 'anat', 'sub-02_ses-02_T1w.nii.gz'),
      labelsOf(cut, '02', '02', ''),
    ]) {
      const volume = await readNifti(path);
      const [nx, ny, nz] = volume.shape;
      const kept = Math.round((3 * nz) / 4);
      const data = volume.data.slice(0, nx * ny * kept);
      await writeNifti(path, createVolume(data, [nx, ny, kept], volume.affine));
    }
    const registered = join(dir.path, 'cut-registered');
    const run = runCli(
      flagArgs('preprocess', { bids: cut, out: registered, labels: 'derivatives/labels', quiet: true }),
    );
    expect(run.status).toBe(0);
    // 0.83 measured: the labels of the cut quarter have no partner, the rest lines up
    expect(await sessionDice(registered, '02')).toBeGreaterThan(0.75);
  }, 300_000);

  test('--apply-inverse maps subject-space labels back onto each scan: they match the native labels (Dice ≥ 0.95)', async () => {
    const native = join(dir.path, 'native');
    const result = runCli(
      flagArgs('preprocess', {
        bids: raw,
        out,
        'apply-inverse': join(out, 'derivatives', 'labels'),
        'native-out': native,
        'log-format': 'json',
      }),
    );
    expect(result.status).toBe(0);
    for (const subject of ['01', '02']) {
      for (const session of ['01', '02']) {
        const [back, truth] = await Promise.all([
          readNifti(
            join(native, `sub-${subject}`, `ses-${session}`, 'anat', `sub-${subject}_ses-${session}_dseg.nii.gz`),
          ),
          readNifti(labelsOf(raw, subject, session, '')),
        ]);
        expect(back.affine).toEqual(truth.affine);
        expect(meanDice(back.data, truth.data)).toBeGreaterThan(0.95);
      }
    }
    const again = runCli(
      flagArgs('preprocess', {
        bids: raw,
        out,
        'apply-inverse': join(out, 'derivatives', 'labels'),
        'native-out': native,
      }),
    );
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('exists; pass --overwrite to replace it');
  }, 300_000);

  test('elastix-wasm (nothing to install) registers as well as the command line', async () => {
    const wasm = join(dir.path, 'wasm');
    const result = runCli(
      flagArgs('preprocess', {
        bids: raw,
        out: wasm,
        labels: 'labels',
        registration: 'elastix-wasm',
        subjects: 'sub-01',
        'log-format': 'json',
      }),
    );
    expect(result.stderr).toContain('elastix-wasm 1.0.1');
    expect(result.status).toBe(0);
    const registered = await sessionDice(wasm, '01');
    expect(registered).toBeGreaterThan(0.8);
    expect(registered).toBeGreaterThan((await sessionDice(affineOnly, '01')) + 0.03);
    // the same elastix, parameters and seed: the label maps all but coincide with the command line's
    const [a, b] = await Promise.all([readNifti(labelsOf(wasm, '01', '02')), readNifti(labelsOf(out, '01', '02'))]);
    expect(meanDice(a.data, b.data)).toBeGreaterThan(0.97);
    expect(JSON.parse(readFileSync(join(wasm, 'sub-01', 'done.json'), 'utf8'))).toMatchObject({
      tool: 'elastix-wasm',
      tool_version: '1.0.1',
    });
  }, 600_000);

  test('elastix-wasm, which runs on one thread, with --threads 2 preprocesses the two subjects at once', () => {
    const atOnce = join(dir.path, 'wasm-at-once');
    const result = runCli(
      flagArgs('preprocess', {
        bids: raw,
        out: atOnce,
        labels: 'labels',
        registration: 'elastix-wasm',
        deformable: false,
        threads: '2',
        'log-format': 'json',
      }),
    );
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('1 thread per registration, 2 subjects at once');
    // both subjects were under way before either was done
    const lines = result.stderr.split('\n');
    const firstDone = lines.findIndex((line) => /sub-0[12]: done/.test(line));
    const began = ['01', '02'].map((subject) => lines.findIndex((line) => line.includes(`sub-${subject}: started`)));
    expect(Math.min(...began)).toBeGreaterThan(-1);
    expect(Math.max(...began)).toBeLessThan(firstDone);
    for (const subject of ['01', '02']) expect(existsSync(join(atOnce, `sub-${subject}`, 'done.json'))).toBe(true);
  }, 600_000);

  test('killed (SIGKILL) during the second subject, a rerun skips the first and redoes only the second', async () => {
    const killed = join(dir.path, 'killed');
    const args = ['preprocess', '--bids', raw, '--out', killed, '--labels', 'labels', '--no-deformable'];
    const { code } = await interruptAfterProgress(args, 'SIGKILL', 'sub-02: ');
    expect(code).toBeNull();
    expect(existsSync(join(killed, 'sub-01', 'done.json'))).toBe(true);
    expect(existsSync(join(killed, 'sub-02', 'done.json'))).toBe(false);
    expect(existsSync(join(killed, 'sub-02', '.lock'))).toBe(true); // its process is gone, so it is taken over
    const first = readFileSync(join(killed, 'sub-01', 'done.json'), 'utf8');
    const result = runCli([...args, '--log-format', 'json']);
    expect(result.stderr).toContain('1 subjects done, 1 skipped');
    expect(result.status).toBe(0);
    expect(readFileSync(join(killed, 'sub-01', 'done.json'), 'utf8')).toBe(first);
    expect(existsSync(join(killed, 'sub-02', 'done.json'))).toBe(true);
  }, 300_000);

  (canMountTmpfs() ? test : test.skip)(
    'a full disk fails each subject with exit 3 naming the file; nothing half-written or done.json is left',
    () => {
      const full = join(dir.path, 'full');
      mkdirSync(full);
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', full]).status).toBe(0);
      try {
        const result = runCli(
          flagArgs('preprocess', { bids: raw, out: join(full, 'out'), labels: 'labels', deformable: false }),
        );
        expect(result.status).toBe(3);
        expect(result.stderr).toMatch(/sub-01: failed: \S+\.nii\.gz: no space left to write it \(ENOSPC\)/);
        const left = spawnSync('find', [full, '-name', '.*.tmp-*', '-o', '-name', 'done.json'], {
          encoding: 'utf8',
        }).stdout;
        expect(left).toBe('');
      } finally {
        spawnSync('umount', [full]);
      }
    },
    300_000,
  );

  test('a subject another job holds is left to it with exit 6 naming the holder (not 0); --wait waits for it', () => {
    const out = join(dir.path, 'held');
    mkdirSync(join(out, 'sub-02'), { recursive: true });
    const hold = (seconds: number) => {
      const holder = spawn('sleep', [String(seconds)]);
      writeFileSync(
        join(out, 'sub-02', '.lock'),
        `${JSON.stringify({ host: hostname(), pid: holder.pid, time: new Date().toISOString(), job: '4242' })}\n`,
      );
      return holder;
    };
    const args = [
      'preprocess',
      '--bids',
      raw,
      '--out',
      out,
      '--labels',
      'labels',
      '--no-deformable',
      '--log-format',
      'json',
    ];
    const holder = hold(600);
    const left = runCli(args);
    holder.kill();
    expect(left.status).toBe(6);
    expect(left.stderr).toContain(`held by host ${hostname()}, process ${holder.pid} (SLURM job 4242)`);
    expect(left.stderr).toContain(
      '1 subjects are being processed by another job and are not done yet (sub-02): run again when it has finished, or pass --wait',
    );
    expect(existsSync(join(out, 'sub-01', 'done.json'))).toBe(true);
    expect(existsSync(join(out, 'sub-02', 'done.json'))).toBe(false);
    // the other job ends about 4 s into this run
    hold(4);
    const waited = runCli([...args, '--wait']);
    expect(waited.status).toBe(0);
    expect(waited.stderr).toContain('waiting for sub-02, held by another job');
    expect(waited.stderr).toContain('1 subjects done, 1 skipped');
    expect(existsSync(join(out, 'sub-02', 'done.json'))).toBe(true);
  }, 300_000);

  test('the elastix command line with a relative --out holding spaces, commas, brackets and non-ASCII characters', async () => {
    const out = join(dir.path, 'my out, [v2] é');
    const result = runCli(
      [
        'preprocess',
        '--bids',
        relative(dir.path, raw),
        '--out',
        'my out, [v2] é',
        '--labels',
        'labels',
        '--subjects',
        'sub-01',
        '--log-format',
        'json',
      ],
      { cwd: dir.path },
    );
    expect(result.status).toBe(0);
    expect(await sessionDice(out, '01')).toBeGreaterThan(0.8);
  }, 300_000);

  test('a shard takes every n-th subject', () => {
    const result = runCli(
      flagArgs('preprocess', {
        bids: raw,
        out: join(dir.path, 'shard'),
        deformable: false,
        shard: '1/2',
        'log-format': 'json',
      }),
    );
    expect(result.stderr).toContain('1 subjects done');
    expect(existsSync(join(dir.path, 'shard', 'sub-02', 'done.json'))).toBe(true);
    expect(existsSync(join(dir.path, 'shard', 'sub-01'))).toBe(false);
  }, 300_000);

  test('an elastix that exits 0 without writing its outputs is caught: exit 4 naming tool, stage, subject and log', () => {
    const fake = join(dir.path, 'fake-bin');
    mkdirSync(fake);
    for (const tool of ['elastix', 'transformix']) {
      writeFileSync(
        join(fake, tool),
        `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "${tool} version: 5.0.1"; fi\nexit 0\n`,
      );
      chmodSync(join(fake, tool), 0o755);
    }
    const result = runCli(
      ['preprocess', '--bids', raw, '--out', join(dir.path, 'fake'), '--subjects', 'sub-01', '--log-format', 'json'],
      { env: { PATH: `${fake}:${process.env.PATH}` } },
    );
    expect(result.status).toBe(4);
    expect(result.stderr).toMatch(
      /elastix \(sub-01 ses-01 affine to the template, affine\) exited without writing .*TransformParameters\.0\.txt; see the logs in/,
    );
    expect(readFileSync(join(dir.path, 'fake', 'preprocess_failed.tsv'), 'utf8')).toMatch(
      /^participant_id\terror\nsub-01\t/,
    );
    expect(existsSync(join(dir.path, 'fake', 'sub-01', 'done.json'))).toBe(false);
  });

  test('ANTs: N4 and antsRegistration get the documented arrays and threads, in the work folder, with names free of ANTs syntax; one that exits 0 without writing is caught (exit 4)', () => {
    const fake = join(dir.path, 'fake-ants');
    // ANTs reads ( { < as [ and splits bracketed parameters at commas: paths with them must not reach it
    const awkward = join(dir.path, 'my study, [v2] (é)');
    cpSync(raw, awkward, { recursive: true });
    const calls = join(dir.path, 'ants-calls.jsonl');
    mkdirSync(fake);
    // records every call; N4 copies its input so that the pipeline reaches antsRegistration, which writes nothing
    const script = `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
if (args[0] === '--version') { console.log('ANTs Version: 2.5.4.fake'); process.exit(0); }
const tool = require('node:path').basename(process.argv[1]);
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ tool, args, cwd: process.cwd(), threads: process.env.ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS }) + '\\n');
if (tool === 'N4BiasFieldCorrection') fs.copyFileSync(args[args.indexOf('-i') + 1], args[args.indexOf('-o') + 1]);
`;
    for (const tool of ['antsRegistration', 'antsApplyTransforms', 'N4BiasFieldCorrection']) {
      writeFileSync(join(fake, tool), script);
      chmodSync(join(fake, tool), 0o755);
    }
    const out = join(dir.path, 'ants, [out]');
    const result = runCli(
      ['preprocess', '--bids', awkward, '--out', out, '--subjects', 'sub-01', '--threads', '2', '--log-format', 'json'],
      { env: { PATH: `${fake}:${process.env.PATH}` } },
    );
    expect(result.stderr).toContain('auto: ANTs 2.5.4.fake');
    expect(result.status).toBe(4);
    expect(result.stderr).toMatch(
      /antsRegistration \(sub-01 ses-01 affine to the template, affine\) exited without writing .*\/ants_0GenericAffine\.mat; see the logs in/,
    );
    const recorded = readFileSync(calls, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { tool: string; args: string[]; cwd: string; threads: string });
    expect(recorded.map((c) => c.tool)).toEqual(['N4BiasFieldCorrection', 'N4BiasFieldCorrection', 'antsRegistration']);
    expect(recorded.every((c) => c.threads === '2')).toBe(true);
    const [n4, , registration] = recorded;
    expect(n4.cwd).toBe(join(out, 'work', 'sub-01', 'n4-ses-01-0'));
    // the raw image's path holds ANTs syntax: N4 reads a copy in its work folder
    expect(n4.args).toEqual(n4Args('input.nii.gz', 'corrected.nii.gz'));
    expect(
      readFileSync(join(n4.cwd, 'input.nii.gz')).equals(
        readFileSync(join(awkward, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_T1w.nii.gz')),
      ),
    ).toBe(true);
    expect(registration.cwd).toBe(join(out, 'work', 'sub-01', 'affine-0-ses-01'));
    expect(registration.args).toEqual(antsAffineArgs('../ses-01_norm.nii.gz', '../ses-01_norm.nii.gz', 'ants_'));
    expect(existsSync(join(out, 'sub-01', 'done.json'))).toBe(false);
  });

  test('bad input: a 4D template, an unknown subject, a missing label derivative', async () => {
    const template = join(dir.path, 'template4d.nii.gz');
    await writeNifti(
      template,
      createVolume(
        new Float32Array(8 * 8 * 8 * 2),
        [8, 8, 8, 2],
        [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
          [0, 0, 0, 1],
        ],
      ),
    );
    const fourD = runCli(['preprocess', '--bids', raw, '--out', join(dir.path, 'x'), '--template', template]);
    expect(fourD.status).toBe(3);
    expect(fourD.stderr).toContain(`${template}: is 4D (8×8×8×2) where a 3D volume is required`);
    const unknown = runCli(['preprocess', '--bids', raw, '--out', join(dir.path, 'x'), '--subjects', 'sub-09']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('sub-09 not in');
    const labels = runCli(
      flagArgs('preprocess', { bids: raw, out: join(dir.path, 'x'), labels: 'derivatives/manual' }),
    );
    expect(labels.status).toBe(3);
    expect(labels.stderr).toContain('manual: no such folder');
  });

  test('a subject with one session is its own template; sessions with different modalities are refused (exit 3)', async () => {
    const partial = join(dir.path, 'partial');
    cpSync(raw, partial, { recursive: true });
    rmSync(join(partial, 'sub-02', 'ses-02'), { recursive: true });
    rmSync(join(partial, 'derivatives', 'labels', 'sub-02', 'ses-02'), { recursive: true });
    const single = runCli(
      flagArgs('preprocess', {
        bids: partial,
        out: join(dir.path, 'single'),
        subjects: 'sub-02',
        labels: 'labels',
        'log-format': 'json',
      }),
    );
    expect(single.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir.path, 'single', 'sub-02', 'qc.json'), 'utf8')).notes).toContain(
      'one session: it is its own template',
    );
    expect(existsSync(labelsOf(join(dir.path, 'single'), '02', '01'))).toBe(true);

    copyFileSync(
      join(partial, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_T1w.nii.gz'),
      join(partial, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_T2w.nii.gz'),
    );
    const mixed = runCli(
      flagArgs('preprocess', {
        bids: partial,
        out: join(dir.path, 'mixed'),
        subjects: 'sub-01',
        modalities: 'T1w,T2w',
      }),
    );
    expect(mixed.status).toBe(3);
    expect(mixed.stderr).toContain(
      'sub-01_ses-02_T1w.nii.gz: has no T2w image next to it; every session needs T1w + T2w',
    );
    expect(existsSync(join(dir.path, 'mixed'))).toBe(false);
  }, 300_000);
});

withElastix('longiseg preprocess on an infant study, whose WM/GM contrast reverses between sessions', () => {
  const dir = makeTempDir();
  const study = join(dir.path, 'study');
  const raw = join(study, 'raw');
  const affineOnly = join(dir.path, 'affine');
  const cli = join(dir.path, 'elastix');
  afterAll(() => dir.remove());

  beforeAll(() => {
    // tissue classes: at 3 mm the deep structures (40–200 voxels) measure resampling more than registration
    expect(
      runCli(
        flagArgs('synth', {
          out: study,
          subjects: '1',
          sessions: '2',
          cohort: 'infant',
          labels: 'tissue',
          shape: '48,64,48',
          'voxel-mm': '3',
          quiet: true,
        }),
      ).status,
    ).toBe(0);
    expect(
      runCli(['preprocess', '--bids', raw, '--out', affineOnly, '--labels', 'labels', '--no-deformable', '--quiet'])
        .status,
    ).toBe(0);
  }, 300_000);

  test.each([
    ['elastix', cli],
    ['elastix-wasm', join(dir.path, 'wasm')],
  ])(
    '%s: the sessions agree (Dice ≥ 0.8), clearly better than affine alone',
    async (registration, out) => {
      expect(
        runCli(flagArgs('preprocess', { bids: raw, out, labels: 'labels', registration, quiet: true })).status,
      ).toBe(0);
      const registered = await sessionDice(out, '01');
      expect(registered).toBeGreaterThan(0.8);
      expect(registered).toBeGreaterThan((await sessionDice(affineOnly, '01')) + 0.03);
      if (registration === 'elastix-wasm') {
        const [a, b] = await Promise.all([readNifti(labelsOf(out, '01', '02')), readNifti(labelsOf(cli, '01', '02'))]);
        expect(meanDice(a.data, b.data)).toBeGreaterThan(0.97);
      }
    },
    600_000,
  );
});
