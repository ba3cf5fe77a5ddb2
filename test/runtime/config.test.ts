import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { flagValues, readConfigFile, resolveLayers, validateConfig } from '../../src/runtime/config.js';
import { UsageError } from '../../src/runtime/errors.js';
import { makeTempDir } from '../helpers.js';

const schema = z
  .object({
    seed: z.number().int().min(0).default(0),
    hd_percentile: z.number().gt(0).max(100).default(95),
    mode: z.enum(['fast', 'exact']).default('exact'),
    train: z
      .object({ lr: z.number().positive(), max_steps: z.number().int().min(1) })
      .strict()
      .optional(),
  })
  .strict();

function message(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('config validation messages name the key path and what is allowed', () => {
  test('a misspelt key, nested, with a suggestion and the allowed keys', () => {
    expect(message(() => validateConfig(schema, { train: { lr: 1e-4, max_stpes: 10 } }, 'run.yaml'))).toBe(
      'run.yaml: invalid configuration\n  train.max_stpes: unknown key (did you mean "max_steps"?); allowed keys: lr, max_steps\n  train.max_steps: expected number, got nothing',
    );
  });

  test('a wrong type', () => {
    expect(message(() => validateConfig(schema, { seed: 'seven' }, 'run.yaml'))).toBe(
      'run.yaml: invalid configuration\n  seed: expected number, got the string "seven"',
    );
  });

  test('out of range and enum values', () => {
    expect(message(() => validateConfig(schema, { hd_percentile: 150, mode: 'quick' }, 'c.json'))).toBe(
      'c.json: invalid configuration\n  hd_percentile: must be <= 100, got number 150\n  mode: must be one of "fast", "exact", got the string "quick"',
    );
  });

  test('an unknown top-level key far from every allowed key gets no suggestion', () => {
    expect(message(() => validateConfig(schema, { colour: 'red' }, 'c.json'))).toBe(
      'c.json: invalid configuration\n  colour: unknown key; allowed keys: seed, hd_percentile, mode, train',
    );
  });
});

describe('config files and flags', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());

  test('YAML and JSON files give the same options; flags override the file', async () => {
    writeFileSync(join(dir.path, 'a.yaml'), 'seed: 3\nhd_percentile: 90\ntrain:\n  lr: 0.001\n  max_steps: 5\n');
    writeFileSync(
      join(dir.path, 'a.json'),
      JSON.stringify({ seed: 3, hd_percentile: 90, train: { lr: 0.001, max_steps: 5 } }),
    );
    const fromYaml = await readConfigFile(join(dir.path, 'a.yaml'));
    expect(fromYaml).toEqual(await readConfigFile(join(dir.path, 'a.json')));
    expect(
      resolveLayers(
        schema,
        [fromYaml, flagValues({ 'hd-percentile': 100, mode: undefined }, ['hd_percentile', 'mode'])],
        'test',
      ),
    ).toEqual({
      seed: 3,
      hd_percentile: 100,
      mode: 'exact',
      train: { lr: 0.001, max_steps: 5 },
    });
  });

  test('later layers win key by key inside nested mappings; lists are replaced whole', () => {
    const listed = z.object({
      train: z.object({ lr: z.number(), max_steps: z.number() }),
      weights: z.array(z.number()),
    });
    const preset = { train: { lr: 0.1, max_steps: 5 }, weights: [1, 2, 3] };
    expect(resolveLayers(listed, [preset, { train: { lr: 0.01 }, weights: [4] }], 'test')).toEqual({
      train: { lr: 0.01, max_steps: 5 },
      weights: [4],
    });
    expect(preset.train.lr).toBe(0.1);
  });

  test('unreadable, unparsable and wrongly named files are usage errors naming the file', async () => {
    writeFileSync(join(dir.path, 'bad.yaml'), 'seed: [1, 2\n');
    writeFileSync(join(dir.path, 'list.json'), '[1, 2]');
    writeFileSync(join(dir.path, 'c.toml'), 'seed = 1');
    await expect(readConfigFile(join(dir.path, 'bad.yaml'))).rejects.toThrow(
      new RegExp(`^${join(dir.path, 'bad.yaml')}: not valid YAML`),
    );
    await expect(readConfigFile(join(dir.path, 'list.json'))).rejects.toThrow('the top level must be a mapping');
    await expect(readConfigFile(join(dir.path, 'c.toml'))).rejects.toThrow(
      'config files must end in .json, .yaml or .yml',
    );
    await expect(readConfigFile(join(dir.path, 'none.yaml'))).rejects.toThrow(
      `${join(dir.path, 'none.yaml')}: cannot read the config file (no such file)`,
    );
  });
});
