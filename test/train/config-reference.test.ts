import { readFileSync } from 'node:fs';
import { CONFIG_MEANINGS, configKeys, configReference } from '../../src/train/config-reference.js';
import { finetuneSchema, pretrainSchema } from '../../src/train/config.js';
import { repoRoot } from '../helpers.js';

describe('the configuration reference', () => {
  test('every key of both schemas has a meaning, and every meaning a key', () => {
    const keys = new Set([...configKeys(pretrainSchema), ...configKeys(finetuneSchema)].map(({ key }) => key));
    expect([...keys].filter((key) => !CONFIG_MEANINGS[key])).toEqual([]);
    expect(Object.keys(CONFIG_MEANINGS).filter((key) => !keys.has(key))).toEqual([]);
  });

  test('docs/config.md is what the schemas generate (npm run docs:config rewrites it)', () => {
    expect(readFileSync(`${repoRoot}docs/config.md`, 'utf8')).toBe(configReference());
  });
});
