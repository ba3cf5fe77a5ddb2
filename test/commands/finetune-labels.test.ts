import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { readSafetensors } from '../../src/model/safetensors.js';
import { Random } from '../../src/runtime/random.js';
import { flagArgs, makeTempDir, runCli } from '../helpers.js';

const config = (steps: number, extra = '', validateEvery = Math.max(1, steps / 2)) => `preset: small
model: { base_width: 4 }
crop: 16
batch: 1
steps: ${steps}
constant_steps: ${steps}
validate_every: ${validateEvery}
validation_volumes: 2
save_every: 100
optimizer: { lr: 0.003 }
split: { validation_subjects: [sub-04], test_subjects: [] }
${extra}`;

const labelOf = (root: string, subject: string, session: string) =>
  join(
    root,
    'derivatives',
    'labels',
    `sub-${subject}`,
    `ses-${session}`,
    'anat',
    `sub-${subject}_ses-${session}_dseg.nii.gz`,
  );

describe('finetune: labelled sessions, step counting and runs that learn nothing', () => {
  const dir = makeTempDir();
  const study = join(dir.path, 'study');
  const data = join(study, 'registered');
  const file = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };
  const finetune = (out: string, yaml: string, extra: string[], root = data) =>
    runCli([
      'finetune',
      '--config',
      file(`${out}.yaml`, yaml),
      '--data',
      root,
      '--out',
      join(dir.path, out),
      '--log-format',
      'json',
      ...extra,
    ]);
  afterAll(() => dir.remove());

  beforeAll(() => {
    // tissue classes at 5 mm: a handful of steps is enough to learn something
    expect(
      runCli(
        flagArgs('synth', {
          out: study,
          subjects: '4',
          sessions: '3',
          shape: '32,32,32',
          'voxel-mm': '5',
          labels: 'tissue',
          quiet: true,
        }),
      ).status,
    ).toBe(0);
  });

  test('--labeled sub-01:ses-02 trains on that session alone; with Lcs a step is two optimiser updates', async () => {
    const result = finetune('one-session', config(4, 'lcs: { every: 1 }\n'), ['--labeled', 'sub-01:ses-02']);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(
      '2 sessions of the labelled subjects are unlabelled in this run and are used only in pairs',
    );
    const { metadata } = await readSafetensors(join(dir.path, 'one-session', 'latest.safetensors'));
    expect(JSON.parse(metadata.optimizer).steps).toBe(8);
    // tissue classes have no sides: nothing for a left-right mirror to exchange
    expect(JSON.parse(metadata.info).mirroredLabels).toBeUndefined();
    // without Lcs the same number of supervised updates: one per step
    expect(finetune('no-lcs', config(4, 'lcs: { weight: 0 }\n'), ['--labeled', 'sub-01']).status).toBe(0);
    expect(
      JSON.parse((await readSafetensors(join(dir.path, 'no-lcs', 'latest.safetensors'))).metadata.optimizer).steps,
    ).toBe(4);
    // the paper's summed loss: one update per step
    expect(finetune('summed', config(4, 'lcs: { mode: sum }\n'), ['--labeled', 'sub-01']).status).toBe(0);
    expect(
      JSON.parse((await readSafetensors(join(dir.path, 'summed', 'latest.safetensors'))).metadata.optimizer).steps,
    ).toBe(4);
    // an Lcs warm-up of 3 steps: 3 supervised updates, then 1 step of two
    expect(finetune('warm-up', config(4, 'lcs: { warmup_steps: 3 }\n'), ['--labeled', 'sub-01']).status).toBe(0);
    expect(
      JSON.parse((await readSafetensors(join(dir.path, 'warm-up', 'latest.safetensors'))).metadata.optimizer).steps,
    ).toBe(5);
    // Lcs every second step after a warm-up of 1: steps 2 and 4 are two updates
    expect(finetune('every', config(4, 'lcs: { warmup_steps: 1, every: 2 }\n'), ['--labeled', 'sub-01']).status).toBe(
      0,
    );
    expect(
      JSON.parse((await readSafetensors(join(dir.path, 'every', 'latest.safetensors'))).metadata.optimizer).steps,
    ).toBe(6);
    const always = finetune('warm-up-all', config(2, 'lcs: { warmup_steps: 2 }\n'), ['--labeled', 'sub-01']);
    expect(always.stderr).toContain('lcs.warmup_steps (2) covers all 2 steps: Lcs never runs');
  }, 300_000);

  test('with side-swapping flips the model records the labels a left-right mirror exchanges', async () => {
    const sided = join(dir.path, 'sided');
    expect(
      runCli(
        flagArgs('synth', {
          out: sided,
          subjects: '4',
          sessions: '2',
          shape: '32,32,32',
          'voxel-mm': '5',
          labels: 'structures',
          quiet: true,
        }),
      ).status,
    ).toBe(0);
    expect(
      finetune('sided', config(2, 'lcs: { weight: 0 }\n'), ['--labeled', 'sub-01'], join(sided, 'registered')).status,
    ).toBe(0);
    const info = JSON.parse((await readSafetensors(join(dir.path, 'sided', 'best.safetensors'))).metadata.info) as {
      labels: Record<string, string>;
      mirroredLabels: number[];
      mirrorAxes: number[];
    };
    // crops are flipped left-right only: --tta mirrors that axis alone
    expect(info.mirrorAxes).toEqual([0]);
    const exchanged = info.mirroredLabels
      .map((other, label) => [info.labels[label], info.labels[other]])
      .filter(([a, b]) => a !== b);
    expect(exchanged).toContainEqual(['Left-Hippocampus', 'Right-Hippocampus']);
    expect(exchanged).toHaveLength(14);
    for (const [a, b] of exchanged)
      expect(b).toBe(a.startsWith('Left-') ? a.replace('Left-', 'Right-') : a.replace('Right-', 'Left-'));
    // trained without flips: --tta has nothing to average and says so
    expect(
      finetune('unflipped', config(2, 'lcs: { weight: 0 }\naugmentation: { enabled: false }\n'), [
        '--labeled',
        'sub-01',
      ]).status,
    ).toBe(0);
    const model = join(dir.path, 'unflipped', 'best.safetensors');
    expect(JSON.parse((await readSafetensors(model)).metadata.info).mirrorAxes).toEqual([]);
    const predicted = runCli(
      flagArgs('predict', {
        model,
        input: join(data, 'sub-04'),
        out: join(dir.path, 'unflipped-predictions'),
        tta: true,
        'log-format': 'json',
      }),
    );
    expect(predicted.status).toBe(0);
    expect(predicted.stderr).toContain('was trained without flips, so there is nothing to average');
  }, 300_000);

  test.each([
    ['sub-99', 'labeled: sub-99 is not a subject of the data (subjects: sub-01, sub-02, sub-03, sub-04)'],
    ['sub-01:ses-09', 'labeled: sub-01:ses-09: sub-01 has no session 09 (sessions: ses-01, ses-02, ses-03)'],
    ['sub-04', 'labeled: sub-04 is not a training subject (training: sub-01, sub-02, sub-03)'],
    ['sub-01:ses-01:x', 'labeled: "sub-01:ses-01:x" is neither sub-XX nor sub-XX:ses-YY'],
  ])(
    '--labeled %s: exit 2 naming it',
    (labeled, message) => {
      const result = finetune('never', config(2), ['--labeled', labeled]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
    },
    120_000,
  );

  test('a labelled session whose label map holds only background is named in a warning', async () => {
    const root = join(dir.path, 'empty-label');
    cpSync(data, root, { recursive: true });
    const path = labelOf(root, '01', '01');
    const label = await readNifti(path);
    label.data.fill(0);
    await writeNifti(path, label);
    const result = finetune('empty', config(1), ['--labeled', 'sub-01'], root);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`${path}: the label map holds no foreground class (background only)`);
  }, 120_000);

  test('labels shuffled over the volume: a warning that nothing was learned, at half the steps and at the end; predict warns too', async () => {
    const root = join(dir.path, 'shuffled');
    cpSync(data, root, { recursive: true });
    const random = new Random(1);
    for (const subject of ['01', '02', '03']) {
      for (const session of ['01', '02', '03']) {
        const path = labelOf(root, subject, session);
        const label = await readNifti(path);
        for (let i = label.data.length - 1; i > 0; i--) {
          const j = random.integer(0, i);
          [label.data[i], label.data[j]] = [label.data[j], label.data[i]];
        }
        await writeNifti(path, label);
      }
    }
    // an Lcs update at every step, as these 60 steps were tuned with
    const shuffled = finetune('shuffled-run', config(60, 'lcs: { every: 1 }\n'), ['--labeled', 'sub-01'], root);
    expect(shuffled.status).toBe(0);
    const warnings = shuffled.stderr
      .split('\n')
      .filter((line) => line.includes('the network has not learned to segment'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('after 30 of 60 steps');
    expect(warnings[1]).toContain('after 60 of 60 steps');
    expect(warnings[0]).toContain('too few steps for 3 foreground classes');
    expect(shuffled.stderr).toMatch(/Dice per class: GM \d\.\d{3}, WM \d\.\d{3}, CSF \d\.\d{3}/);
    const model = join(dir.path, 'shuffled-run', 'best.safetensors');
    const predicted = runCli(
      flagArgs('predict', {
        model,
        input: join(data, 'sub-04'),
        out: join(dir.path, 'shuffled-predictions'),
        'log-format': 'json',
      }),
    );
    expect(predicted.status).toBe(0);
    expect(predicted.stderr).toContain(`${model}: its training recorded a validation foreground Dice of`);

    // the same run on the true labels learns: no warning at the end (early on it may still predict background only)
    const learned = finetune('true-run', config(60, 'lcs: { every: 1 }\n', 60), ['--labeled', 'sub-01']);
    expect(learned.status).toBe(0);
    expect(learned.stderr).not.toContain('the network has not learned to segment');
    const { metadata } = await readSafetensors(join(dir.path, 'true-run', 'best.safetensors'));
    const validation = JSON.parse(metadata.validation);
    expect(validation.dice).toBeGreaterThan(0.05);
    expect(Object.keys(validation.per_class)).toEqual(['1', '2', '3']);
    // predict's default post-processing: the classes whose largest region alone scored higher on validation
    const postprocessing = JSON.parse(metadata.postprocessing);
    const largest = postprocessing.per_class_keep_largest as Record<string, number>;
    expect(Object.keys(largest)).toEqual(['1', '2', '3']);
    expect(postprocessing.keep_largest).toEqual(
      ['1', '2', '3'].filter((label) => largest[label] > validation.per_class[label]).map(Number),
    );
    expect(readFileSync(join(dir.path, 'true-run', 'train_log.tsv'), 'utf8')).toContain('\tvalidation\t');
  }, 300_000);
});
