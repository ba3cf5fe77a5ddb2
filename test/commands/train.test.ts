import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors.js';
import {
  flagArgs,
  interruptAfterProgress,
  maxAbsDiff,
  runCli,
  tinyFinetune,
  tinyPretrain,
  tinyStudy,
} from '../helpers.js';

async function weights(path: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensors(path);
  return new Map(
    [...tensors]
      .filter(([name]) => !name.endsWith('num_batches_tracked'))
      .map(([name, t]) => [name, t.data as Float32Array]),
  );
}

describe('longiseg pretrain and finetune', () => {
  const { dir, data, config } = tinyStudy();

  beforeAll(() => {
    config('pretrain.yaml', tinyPretrain);
    config('finetune.yaml', tinyFinetune);
  });

  const train = (kind: string, out: string, extra: string[] = []) =>
    runCli([
      kind,
      '--config',
      join(dir.path, `${kind}.yaml`),
      '--data',
      data,
      '--out',
      out,
      '--log-format',
      'json',
      ...extra,
    ]);

  test.each(['pretrain', 'finetune'])(
    '%s: 6 steps in one go equal 3 steps, --resume, 3 more (weights, BatchNorm statistics, Adam moments)',
    async (kind) => {
      const whole = join(dir.path, `${kind}-whole`);
      const halves = join(dir.path, `${kind}-halves`);
      const extra = kind === 'finetune' ? ['--labeled', 'sub-01'] : [];
      expect(train(kind, whole, extra).status).toBe(0);
      expect(train(kind, halves, [...extra, '--max-steps', '3']).status).toBe(0);
      const resumed = runCli([kind, '--out', halves, '--resume', '--log-format', 'json']);
      expect(resumed.stderr).toContain('resuming');
      expect(resumed.status).toBe(0);
      const [a, b] = [
        await weights(join(whole, 'latest.safetensors')),
        await weights(join(halves, 'latest.safetensors')),
      ];
      expect([...b.keys()]).toEqual([...a.keys()]);
      expect(Math.max(...[...a].map(([name, values]) => maxAbsDiff(values, b.get(name)!)))).toBeLessThan(1e-6);
      const log = readFileSync(join(halves, 'train_log.tsv'), 'utf8').trim().split('\n');
      expect(log.filter((line) => line.includes('\ttrain\t')).map((line) => line.split('\t')[0])).toEqual([
        '1',
        '2',
        '3',
        '4',
        '5',
        '6',
      ]);
      expect(readFileSync(join(halves, 'config.yaml'), 'utf8')).toContain('preset: small');
    },
    300_000,
  );

  test('finetune writes a model predict can use, with the label table of the data', async () => {
    const out = join(dir.path, 'finetune-whole');
    const { metadata } = await readSafetensors(join(out, 'best.safetensors'));
    expect(JSON.parse(metadata.info)).toMatchObject({
      modalities: ['T1w'],
      unet: { outputClasses: 18 },
      labels: { '1': expect.any(String) },
    });
    const result = runCli(
      flagArgs('predict', {
        model: join(out, 'best.safetensors'),
        input: data,
        out: join(dir.path, 'predictions'),
        'log-format': 'json',
      }),
    );
    expect(result.stderr).toContain('8 cases predicted');
  }, 120_000);

  test("finetune --pretrained with the small preset loads the encoder's first three levels and says so", () => {
    const result = train('finetune', join(dir.path, 'finetune-pretrained'), [
      '--pretrained',
      join(dir.path, 'pretrain-whole', 'best.safetensors'),
      '--max-steps',
      '1',
    ]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(
      'best.safetensors (encoder levels 0–2 only, by pretrained_levels; output layer re-initialised, 18 classes)',
    );
  }, 120_000);

  test('SIGTERM saves latest and exits 5; --resume goes on from there', async () => {
    const out = join(dir.path, 'interrupted');
    const { code } = await interruptAfterProgress(
      ['pretrain', '--config', join(dir.path, 'pretrain.yaml'), '--data', data, '--out', out],
      'SIGTERM',
    );
    expect(code).toBe(5);
    const { metadata } = await readSafetensors(join(out, 'latest.safetensors'));
    const step = JSON.parse(metadata.state).step;
    expect(step).toBeGreaterThan(0);
    const resumed = runCli(['pretrain', '--out', out, '--resume', '--log-format', 'json']);
    expect(resumed.stderr).toContain(`resuming ${join(out, 'latest.safetensors')} at step ${step}`);
    expect(resumed.status).toBe(0);
  }, 120_000);

  test('SIGTERM during the last step saves it and exits 5; --resume then runs the validation it was due', async () => {
    const out = join(dir.path, 'last-step');
    // steps slow enough (crop 32, width 8) that the signal lands inside step 4
    const slow = config(
      'slow.yaml',
      tinyFinetune
        .replace('base_width: 4', 'base_width: 8')
        .replace('crop: 16', 'crop: 32')
        .replace('steps: 6', 'steps: 4')
        .replace('validate_every: 100', 'validate_every: 3'),
    );
    // the validation after step 3 is logged just before step 4 (two updates of crops 32³, about a second) begins
    const { code } = await interruptAfterProgress(
      ['finetune', '--config', slow, '--data', data, '--out', out, '--labeled', 'sub-01'],
      'SIGTERM',
      'step 3: validation',
      300,
    );
    expect(code).toBe(5);
    const { metadata } = await readSafetensors(join(out, 'latest.safetensors'));
    expect(JSON.parse(metadata.state)).toMatchObject({ step: 4, validated: 3 });
    const validations = () =>
      readFileSync(join(out, 'train_log.tsv'), 'utf8')
        .split('\n')
        .filter((line) => line.includes('\tvalidation\t'))
        .map((line) => line.split('\t')[0]);
    expect(validations()).toEqual(['3']);
    const resumed = runCli(['finetune', '--out', out, '--resume', '--log-format', 'json']);
    expect(resumed.status).toBe(0);
    expect(validations()).toEqual(['3', '4']);
    expect(JSON.parse((await readSafetensors(join(out, 'latest.safetensors'))).metadata.state)).toMatchObject({
      step: 4,
      validated: 4,
    });
  }, 120_000);

  test('a run killed while writing its first checkpoint: a rerun is refused, --resume cleans up and starts again from step 0', async () => {
    const out = join(dir.path, 'killed-first-save');
    expect(train('finetune', out, ['--labeled', 'sub-01', '--max-steps', '2']).status).toBe(0);
    // what SIGKILL during the first write of latest leaves: everything but latest, and the temporary of a dead process
    rmSync(join(out, 'latest.safetensors'));
    const dead = spawnSync('true').pid!;
    const orphan = join(out, `.latest.safetensors.tmp-${hostname()}-${dead}-0123abcd`);
    writeFileSync(orphan, 'half a checkpoint');
    const best = readFileSync(join(out, 'best.safetensors'));
    const rerun = train('finetune', out, ['--labeled', 'sub-01']);
    expect(rerun.status).toBe(2);
    expect(rerun.stderr).toContain(
      `${out} holds a training run that stopped before its first checkpoint; pass --resume to start it again from step 0`,
    );
    expect(readFileSync(join(out, 'best.safetensors')).equals(best)).toBe(true);
    const resumed = runCli(['finetune', '--out', out, '--resume', '--log-format', 'json']);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toContain(`removed ${orphan}, left by a run that was killed while writing it`);
    expect(resumed.stderr).toContain(
      'has no checkpoint yet (the run stopped before its first save): starting it again from step 0',
    );
    expect(existsSync(orphan)).toBe(false);
    expect(JSON.parse((await readSafetensors(join(out, 'latest.safetensors'))).metadata.state).step).toBe(6);
  }, 120_000);

  describe('bad input', () => {
    test('an unknown key, a weight of the wrong type, an unknown preset, a crop the U-Net cannot halve: exit 2 naming the key', () => {
      for (const [text, message] of [
        [`${tinyPretrain}wieghts: { orthogonality: 1 }\n`, 'wieghts'],
        [`${tinyPretrain}weights: { orthogonality: high }\n`, 'weights.orthogonality'],
        [tinyPretrain.replace('preset: small', 'preset: huge'), 'preset "huge" does not exist (presets: paper, small)'],
        [`${tinyPretrain}taps: [3, 4, 27, 38]\n`, 'taps: 4 is not the id of a convolution of the U-Net (0…65)'],
        [
          `${tinyPretrain}taps: [3, 27, 38]\n`,
          'weights.variance: has 9 entries but there are 3 taps (one weight per tapped layer; preset small sets it for its own taps)',
        ],
        [
          tinyPretrain.replace('crop: 16', 'crop: 24'),
          'crop: 24 is not a multiple of 16: the U-Net (model.depth 4) halves it 4 times',
        ],
      ]) {
        const result = runCli(
          flagArgs('pretrain', { config: config('bad.yaml', text), data, out: join(dir.path, 'bad') }),
        );
        expect(result.status).toBe(2);
        expect(result.stderr).toContain(message);
      }
      for (const [text, message] of [
        [
          `${tinyFinetune}pretrained_exclude: [38, 40]\n`,
          'pretrained_exclude: 40 is not the id of a convolution or BatchNorm of the U-Net (0…65)',
        ],
        [
          `${tinyFinetune}pretrained_levels: 5\n`,
          "pretrained_levels: 5 is more than the U-Net's 4 encoder levels (model.depth)",
        ],
      ]) {
        const result = runCli(
          flagArgs('finetune', { config: config('bad-finetune.yaml', text), data, out: join(dir.path, 'bad') }),
        );
        expect(result.status).toBe(2);
        expect(result.stderr).toContain(message);
      }
    });

    test.each(['pretrain', 'finetune'])(
      '%s --resume of a checkpoint whose stored configuration or state is not valid: exit 3 naming the file and the key',
      async (kind) => {
        const source = join(dir.path, `${kind}-halves`);
        for (const [change, message] of [
          [
            (m: Record<string, string>) => ({
              ...m,
              config: JSON.stringify({ ...JSON.parse(m.config), crop: 'large' }),
            }),
            'its stored run configuration: invalid configuration\n  crop: expected number',
          ],
          [(m: Record<string, string>) => ({ ...m, state: '{"step": -1}' }), 'holds no readable training state'],
        ] as [(m: Record<string, string>) => Record<string, string>, string][]) {
          const out = join(dir.path, `${kind}-edited`);
          rmSync(out, { recursive: true, force: true });
          cpSync(source, out, { recursive: true });
          const latest = join(out, 'latest.safetensors');
          const { tensors, metadata } = await readSafetensors(latest);
          await writeSafetensors(latest, tensors, change(metadata));
          const result = runCli([kind, '--out', out, '--resume']);
          expect(result.status).toBe(3);
          expect(result.stderr).toContain(`${latest}: `);
          expect(result.stderr).toContain(message);
        }
      },
    );

    test('an existing run is not overwritten without --resume', () => {
      const result = train('pretrain', join(dir.path, 'pretrain-whole'));
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('already holds a training run (latest.safetensors); pass --resume');
    });

    test('no subject with two sessions; sessions on different grids; labels beyond the classes', async () => {
      const single = join(dir.path, 'single');
      mkdirSync(single);
      for (const subject of ['sub-01', 'sub-04'])
        cpSync(join(data, subject, 'ses-01'), join(single, subject, 'ses-01'), { recursive: true });
      const one = runCli(
        flagArgs('pretrain', { config: join(dir.path, 'pretrain.yaml'), data: single, out: join(dir.path, 'x1') }),
      );
      expect(one.status).toBe(3);
      expect(one.stderr).toContain('has no training subject with two or more sessions');

      const moved = join(dir.path, 'moved');
      cpSync(data, moved, { recursive: true });
      const image = join(moved, 'sub-02', 'ses-02', 'anat', 'sub-02_ses-02_T1w.nii.gz');
      const volume = await readNifti(image);
      volume.affine[0][3] += 10;
      volume.xforms.sform[0][3] += 10;
      await writeNifti(image, volume);
      const grids = runCli(
        flagArgs('pretrain', { config: join(dir.path, 'pretrain.yaml'), data: moved, out: join(dir.path, 'x2') }),
      );
      expect(grids.status).toBe(3);
      expect(grids.stderr).toContain(`${image}: is not on the grid of`);
      expect(grids.stderr).toContain('longiseg preprocess');

      const classes = runCli(
        flagArgs('finetune', {
          config: config('few.yaml', `${tinyFinetune}classes: 3\n`),
          data,
          out: join(dir.path, 'x3'),
        }),
      );
      expect(classes.status).toBe(3);
      expect(classes.stderr).toMatch(/_dseg\.nii\.gz: holds label \d+, outside 0…2/);
    });

    test('a pretrained checkpoint of another width or depth says so in one line, naming both sizes', () => {
      const pretrained = join(dir.path, 'pretrain-whole', 'best.safetensors');
      const wide = runCli(
        flagArgs('finetune', {
          config: config('wide.yaml', tinyFinetune.replace('base_width: 4', 'base_width: 8')),
          data,
          out: join(dir.path, 'x4'),
          pretrained,
        }),
      );
      expect(wide.status).toBe(3);
      expect(wide.stderr).toContain(
        `${pretrained}: is a U-Net of another size: the checkpoint has base_width 4, depth 4, 1 input channel; this run has base_width 8, depth 4, 1 input channel`,
      );
      expect(wide.stderr).not.toMatch(/model\.\d+\./);
      const deep = runCli(
        flagArgs('finetune', {
          config: config('deep.yaml', tinyFinetune.replace('base_width: 4 }', 'base_width: 4, depth: 3 }')),
          data,
          out: join(dir.path, 'x5'),
          pretrained,
        }),
      );
      expect(deep.status).toBe(3);
      expect(deep.stderr).toContain(
        'the checkpoint has base_width 4, depth 4, 1 input channel; this run has base_width 4, depth 3, 1 input channel',
      );
    });

    test('--config names a preset or a file: anything else names the presets; __proto__ in YAML is refused by name', () => {
      const unknown = runCli(['pretrain', '--config', 'tiny', '--data', data, '--out', join(dir.path, 'x6')]);
      expect(unknown.status).toBe(2);
      expect(unknown.stderr).toContain('--config tiny: neither a preset (paper, small) nor a config file');
      const proto = runCli(
        flagArgs('pretrain', {
          config: config('proto.yaml', `${tinyPretrain}__proto__: { crop: 8 }\n`),
          data,
          out: join(dir.path, 'x7'),
        }),
      );
      expect(proto.status).toBe(2);
      expect(proto.stderr).toContain('proto.yaml: key "__proto__" is not allowed');
      const nested = runCli(
        flagArgs('finetune', {
          config: config('proto.json', '{"preset": "small", "optimizer": {"constructor": {"prototype": 1}}}'),
          data,
          out: join(dir.path, 'x8'),
        }),
      );
      expect(nested.status).toBe(2);
      expect(nested.stderr).toContain('proto.json: key "optimizer.constructor" is not allowed');
    });
  });
});
