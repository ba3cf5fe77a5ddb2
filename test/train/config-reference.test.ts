import { readFileSync } from 'node:fs';
import { configKeys, configReference } from '../../src/train/config-reference.js';
import { finetuneSchema, pretrainSchema } from '../../src/train/config.js';
import { repoRoot } from '../helpers.js';

describe('the configuration reference', () => {
  test('every key of both schemas says what it means', () => {
    const keys = [...configKeys(pretrainSchema), ...configKeys(finetuneSchema)];
    expect(keys.length).toBeGreaterThan(70);
    expect(keys.filter(({ schema }) => !schema.description).map(({ key }) => key)).toEqual([]);
  });

  test('docs/config.md is what the schemas generate (npm run docs:config rewrites it)', () => {
    expect(readFileSync(`${repoRoot}docs/config.md`, 'utf8')).toBe(configReference());
  });
});
