import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { cropOrPad } from '../../src/io/volume.js';
import type { EvaluationSummary } from '../../src/metrics/summary.js';
import { flagArgs, fixture, interruptAfterProgress, makeTempDir, python, runCli } from '../helpers.js';

/** scipy's numbers for the metric fixtures (fixtures/metrics/expected.json). */
interface ExpectedMetrics {
  status: string;
  dice: number;
  iou: number;
  hd95: number;
  hd100: number;
}
interface ExpectedPair {
  stcs: number;
  stcs_ref: number;
  aspc: number;
  aspc_ref: number;
  years: number;
}
const expected = JSON.parse(readFileSync(fixture('metrics', 'expected.json'), 'utf8')) as {
  cases: Record<string, { shape: number[]; spacing: number[]; metrics: Record<string, ExpectedMetrics> }>;
  longitudinal: Record<string, ExpectedPair>;
};

function readTsvRows(path: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const columns = header.split('\t');
  return lines.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [columns[i], v])));
}

describe('longiseg evaluate on the scipy fixtures', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());
  let summary: EvaluationSummary;

  beforeAll(() => {
    const result = runCli(
      flagArgs('evaluate', {
        pred: fixture('metrics', 'pred'),
        ref: fixture('metrics', 'ref'),
        out: dir.path,
        'log-format': 'json',
      }),
    );
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    summary = JSON.parse(readFileSync(join(dir.path, 'summary.json'), 'utf8'));
  });

  test('per-case values match scipy to 1e-6 (Dice, IoU) and 1e-3 mm (HD95)', () => {
    expect(summary.metric_per_case).toHaveLength(3);
    for (const entry of summary.metric_per_case) {
      const want = expected.cases[entry.subject].metrics;
      for (const [label, w] of Object.entries(want)) {
        const got = entry.metrics[label] as Record<string, number>;
        expect(got.HD95_status).toBe(w.status);
        expect(Math.abs(got.Dice - w.dice)).toBeLessThan(1e-6);
        expect(Math.abs(got.IoU - w.iou)).toBeLessThan(1e-6);
        if (w.status === 'ok') expect(Math.abs(got.HD95 - w.hd95)).toBeLessThan(1e-3);
        else expect(got.HD95).toBeNull();
      }
    }
  });

  test('means follow the stated rules: one-empty HD95 charged at the volume diagonal, both-empty left out', () => {
    const diagonal = (name: string) => {
      const { shape, spacing } = expected.cases[name];
      return Math.hypot(shape[0] * spacing[0], shape[1] * spacing[1], shape[2] * spacing[2]);
    };
    // label 4: ok in 'fine', pred_empty in 'aniso', ref_empty in 'iso'
    const values = [expected.cases.fine.metrics['4'].hd95, diagonal('aniso'), diagonal('iso')];
    expect(summary.mean['4'].HD95).toBeCloseTo(values.reduce((a, b) => a + b) / 3, 3);
    expect(summary.counts['4']).toMatchObject({
      cases: 3,
      hd_pred_empty: 1,
      hd_ref_empty: 1,
      hd_penalised: 2,
      hd_both_empty: 0,
    });
    // label 6 exists only in 'fine' (prediction only); the other two cases are both-empty and drop out
    expect(summary.counts['6']).toMatchObject({ hd_both_empty: 2, dice_undefined: 2 });
    expect(summary.mean['6'].Dice).toBe(0);
    const perLabelMeans = Object.values(summary.mean).map((m) => m.Dice!);
    expect(summary.foreground_mean.Dice).toBeCloseTo(perLabelMeans.reduce((a, b) => a + b) / perLabelMeans.length, 12);
  });

  test('summary.json is strict JSON for Python too, and documents its definitions', () => {
    const text = readFileSync(join(dir.path, 'summary.json'), 'utf8');
    expect(text).not.toMatch(/NaN|Infinity/);
    const fromPython = execFileSync(
      python,
      [
        '-c',
        'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["metric_per_case"]))',
        join(dir.path, 'summary.json'),
      ],
      { encoding: 'utf8' },
    );
    expect(fromPython.trim()).toBe('3');
    expect(summary.meta.tool).toBe('longiseg evaluate');
    expect((summary.meta.definitions as Record<string, string>).HD95).toMatch(/6-connected erosion/);
  });

  test('per_case.tsv has the documented columns and n/a for undefined values', () => {
    const rows = readTsvRows(join(dir.path, 'per_case.tsv'));
    expect(Object.keys(rows[0])).toEqual([
      'subject',
      'session',
      'label',
      'name',
      'dice',
      'iou',
      'hd95',
      'hd95_status',
      'vol_pred_mm3',
      'vol_ref_mm3',
    ]);
    expect(rows).toHaveLength(3 * 6);
    const missed = rows.find((r) => r.subject === 'aniso' && r.label === '4')!;
    expect(missed).toMatchObject({ dice: '0', hd95: 'n/a', hd95_status: 'pred_empty', vol_pred_mm3: '0' });
  });

  test('worker threads give the same numbers as one thread', () => {
    const single = join(dir.path, 'single');
    const result = runCli(
      flagArgs('evaluate', {
        pred: fixture('metrics', 'pred'),
        ref: fixture('metrics', 'ref'),
        out: single,
        workers: '1',
      }),
    );
    expect(result.status).toBe(0);
    const other = JSON.parse(readFileSync(join(single, 'summary.json'), 'utf8'));
    expect(other.metric_per_case).toEqual(summary.metric_per_case);
    expect(other.mean).toEqual(summary.mean);
  });

  test('--hd-percentile 100 gives the Hausdorff distance', () => {
    const out = join(dir.path, 'hd100');
    expect(
      runCli(
        flagArgs('evaluate', {
          pred: fixture('metrics', 'pred'),
          ref: fixture('metrics', 'ref'),
          out,
          'hd-percentile': '100',
          labels: '1,2',
        }),
      ).status,
    ).toBe(0);
    const rows = readTsvRows(join(out, 'per_case.tsv'));
    expect(Object.keys(rows[0])).toContain('hd100');
    for (const row of rows)
      expect(Math.abs(Number(row.hd100) - expected.cases[row.subject].metrics[row.label].hd100)).toBeLessThan(1e-3);
  });
});

describe('longiseg evaluate --longitudinal', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());
  const pred = fixture('metrics', 'longitudinal', 'pred');
  const ref = fixture('metrics', 'longitudinal', 'ref');

  test.each([false, true])('STCS and ASPC match the reference values (annualize %s)', (annualize) => {
    const out = join(dir.path, `annualize-${annualize}`);
    const result = runCli([
      'evaluate',
      '--pred',
      pred,
      '--ref',
      ref,
      '--out',
      out,
      '--longitudinal',
      ...(annualize ? ['--annualize'] : []),
    ]);
    expect(result.status).toBe(0);
    const rows = readTsvRows(join(out, 'longitudinal.tsv'));
    expect(rows).toHaveLength(3 * 3);
    expect(rows[0]).toMatchObject({
      subject: '01',
      session_a: '01',
      session_b: '02',
      label: '1',
      name: 'structure_one',
    });
    for (const row of rows) {
      const w = expected.longitudinal[`${row.session_a}-${row.session_b}-${row.label}`];
      const divisor = annualize ? w.years : 1;
      expect(Math.abs(Number(row.stcs) - w.stcs)).toBeLessThan(1e-9);
      expect(Math.abs(Number(row.stcs_ref) - w.stcs_ref)).toBeLessThan(1e-9);
      expect(Math.abs(Number(row.aspc) - w.aspc / divisor)).toBeLessThan(1e-6);
      expect(Math.abs(Number(row.aspc_ref) - w.aspc_ref / divisor)).toBeLessThan(1e-6);
      expect(Number(row.years)).toBeCloseTo(w.years, 12);
    }
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.longitudinal.session_pairs).toBe(3);
    expect(summary.longitudinal.annualized).toBe(annualize);
    expect(result.stdout).toMatch(/STCS \(median \/ mean\)/);
    expect(result.stdout).toMatch(/growing/);
  });

  test('a subject with one session is skipped with a warning', () => {
    const tree = join(dir.path, 'one-session');
    cpSync(pred, join(tree, 'pred'), { recursive: true });
    cpSync(ref, join(tree, 'ref'), { recursive: true });
    mkdirSync(join(tree, 'pred', 'sub-02', 'ses-01', 'anat'), { recursive: true });
    mkdirSync(join(tree, 'ref', 'sub-02', 'ses-01', 'anat'), { recursive: true });
    cpSync(
      join(pred, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_dseg.nii.gz'),
      join(tree, 'pred', 'sub-02', 'ses-01', 'anat', 'sub-02_ses-01_dseg.nii.gz'),
    );
    cpSync(
      join(ref, 'sub-01', 'ses-01', 'anat', 'sub-01_ses-01_dseg.nii.gz'),
      join(tree, 'ref', 'sub-02', 'ses-01', 'anat', 'sub-02_ses-01_dseg.nii.gz'),
    );
    const result = runCli(
      flagArgs('evaluate', {
        pred: join(tree, 'pred'),
        ref: join(tree, 'ref'),
        longitudinal: true,
        'log-format': 'json',
      }),
    );
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('sub-02 has one session');
    const summary = JSON.parse(readFileSync(join(tree, 'pred', 'summary.json'), 'utf8'));
    expect(summary.longitudinal.skipped_subjects).toEqual(['02']);
    expect(summary.metric_per_case).toHaveLength(4);
  });

  test('--annualize without ages is a clear error', () => {
    const tree = join(dir.path, 'no-ages');
    cpSync(pred, join(tree, 'pred'), { recursive: true });
    cpSync(ref, join(tree, 'ref'), { recursive: true });
    writeFileSync(
      join(tree, 'ref', 'sub-01', 'sub-01_sessions.tsv'),
      'session_id\tage\nses-01\t0.5\nses-02\tn/a\nses-03\t3\n',
    );
    const result = runCli(
      flagArgs('evaluate', { pred: join(tree, 'pred'), ref: join(tree, 'ref'), longitudinal: true, annualize: true }),
    );
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('sub-01_sessions.tsv: gives no age (age, age_months or acq_time) for ses-02');
  });
});

describe('longiseg evaluate: bad input', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());

  function studyCopy(name: string): { pred: string; ref: string } {
    const pred = join(dir.path, name, 'pred');
    const ref = join(dir.path, name, 'ref');
    cpSync(fixture('metrics', 'pred'), pred, { recursive: true });
    cpSync(fixture('metrics', 'ref'), ref, { recursive: true });
    return { pred, ref };
  }

  test('mismatched grids: exit 3 naming both files; --resample evaluates', async () => {
    const { pred, ref } = studyCopy('grids');
    const volume = await readNifti(join(pred, 'iso.nii.gz'));
    await writeNifti(join(pred, 'iso.nii.gz'), cropOrPad(volume, [-2, 0, 0], [40, 36, 36]), { datatype: 'uint8' });
    const refused = runCli(['evaluate', '--pred', pred, '--ref', ref]);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain(
      `${join(pred, 'iso.nii.gz')}: is not on the grid of the reference ${join(ref, 'iso.nii.gz')} (40×36×36`,
    );
    expect(refused.stderr).toContain('--resample');
    expect(existsSync(join(pred, 'summary.json'))).toBe(false);
    const resampled = runCli(['evaluate', '--pred', pred, '--ref', ref, '--resample', '--log-format', 'json']);
    expect(resampled.status).toBe(0);
    expect(resampled.stderr).toContain('was resampled onto the grid of');
    const summary = JSON.parse(readFileSync(join(pred, 'summary.json'), 'utf8')) as EvaluationSummary;
    const iso = summary.metric_per_case.find((c) => c.subject === 'iso')!;
    expect(iso.resampled).toBe(true);
    expect(Math.abs((iso.metrics['1'].Dice as number) - expected.cases.iso.metrics['1'].dice)).toBeLessThan(1e-6);
  });

  test('non-integer values in a label map: exit 3', async () => {
    const { pred, ref } = studyCopy('fractional');
    const volume = await readNifti(join(pred, 'aniso.nii.gz'));
    const data = Float32Array.from(volume.data);
    data[100] = 1.5;
    await writeNifti(join(pred, 'aniso.nii.gz'), { ...volume, data }, { datatype: 'float32' });
    const result = runCli(['evaluate', '--pred', pred, '--ref', ref]);
    expect(result.status).toBe(3);
    expect(result.stderr).toContain(`${join(pred, 'aniso.nii.gz')}: label map holds 1 non-integer values`);
  });

  test('empty folders and missing folders: exit 3', () => {
    mkdirSync(join(dir.path, 'empty'));
    const empty = runCli(['evaluate', '--pred', join(dir.path, 'empty'), '--ref', fixture('metrics', 'ref')]);
    expect(empty.status).toBe(3);
    expect(empty.stderr).toContain(`${join(dir.path, 'empty')}: holds no NIfTI files`);
    const missing = runCli(['evaluate', '--pred', join(dir.path, 'nowhere'), '--ref', fixture('metrics', 'ref')]);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain('nowhere: no such folder');
  });

  test('missing predictions: exit 3 listing them, unless --allow-missing', () => {
    const { pred, ref } = studyCopy('missing');
    execFileSync('rm', [join(pred, 'fine.nii.gz')]);
    const refused = runCli(['evaluate', '--pred', pred, '--ref', ref]);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain(`has no prediction for 1 reference(s): ${join(ref, 'fine.nii.gz')}`);
    const allowed = runCli(['evaluate', '--pred', pred, '--ref', ref, '--allow-missing']);
    expect(allowed.status).toBe(0);
    expect(JSON.parse(readFileSync(join(pred, 'summary.json'), 'utf8')).metric_per_case).toHaveLength(2);
  });

  test('labels absent from the label table: a warning, evaluated anyway', () => {
    const { pred, ref } = studyCopy('table');
    writeFileSync(join(ref, 'dseg.tsv'), 'index\tname\n0\tbackground\n1\tone\n2\ttwo\n');
    const result = runCli(['evaluate', '--pred', pred, '--ref', ref, '--log-format', 'json']);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('labels 3, 4, 5, 6 are not in the label table; evaluated anyway');
    const rows = readTsvRows(join(pred, 'per_case.tsv'));
    expect(rows.filter((r) => r.subject === 'aniso').map((r) => `${r.label}:${r.name}`)).toEqual([
      '1:one',
      '2:two',
      '3:n/a',
      '4:n/a',
      '5:n/a',
      '6:n/a',
    ]);
    // every label of per_case.tsv is a row of the printed table too
    const printed = result.stdout.split('\n').map((line) => line.split(/\s+/)[0]);
    for (const label of new Set(rows.map((r) => r.label))) expect(printed).toContain(label);
  });

  test('a file of the same name that evaluate did not write is not overwritten', () => {
    const { pred, ref } = studyCopy('foreign');
    writeFileSync(join(pred, 'summary.json'), '{"mine": true}');
    const result = runCli(['evaluate', '--pred', pred, '--ref', ref]);
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('summary.json: exists and was not written by longiseg evaluate');
    expect(readFileSync(join(pred, 'summary.json'), 'utf8')).toBe('{"mine": true}');
    expect(existsSync(join(pred, 'per_case.tsv'))).toBe(false);
  });

  test('config file keys are validated and flags override them', () => {
    const config = join(dir.path, 'evaluate.yaml');
    writeFileSync(config, `pred: ${fixture('metrics', 'pred')}\nref: ${fixture('metrics', 'ref')}\nhd_percentil: 90\n`);
    const typo = runCli(['evaluate', '--config', config]);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('hd_percentil: unknown key (did you mean "hd_percentile"?)');
    writeFileSync(
      config,
      `pred: ${fixture('metrics', 'pred')}\nref: ${fixture('metrics', 'ref')}\nhd_percentile: 'high'\nlabels: [1]\n`,
    );
    const wrongType = runCli(['evaluate', '--config', config]);
    expect(wrongType.status).toBe(2);
    expect(wrongType.stderr).toContain('hd_percentile: expected number, got the string "high"');
    const out = join(dir.path, 'from-config');
    const overridden = runCli(['evaluate', '--config', config, '--hd-percentile', '100', '--out', out]);
    expect(overridden.status).toBe(0);
    expect(readTsvRows(join(out, 'per_case.tsv')).map((r) => r.label)).toEqual(['1', '1', '1']);
  });
});

describe('longiseg evaluate: interruption', () => {
  test('SIGTERM stops a long evaluation with exit 5 and leaves no output files', async () => {
    const dir = makeTempDir();
    try {
      const pred = join(dir.path, 'pred');
      const ref = join(dir.path, 'ref');
      mkdirSync(pred);
      mkdirSync(ref);
      for (let n = 0; n < 60; n++) {
        cpSync(fixture('metrics', 'pred', 'fine.nii.gz'), join(pred, `case${n}.nii.gz`));
        cpSync(fixture('metrics', 'ref', 'fine.nii.gz'), join(ref, `case${n}.nii.gz`));
      }
      const { code, stderr } = await interruptAfterProgress(
        ['evaluate', '--pred', pred, '--ref', ref, '--workers', '1'],
        'SIGTERM',
      );
      expect(code).toBe(5);
      expect(stderr).toContain('interrupted by SIGTERM');
      expect(readdirSync(pred).filter((f) => !f.endsWith('.nii.gz'))).toEqual([]);
    } finally {
      dir.remove();
    }
  });
});
