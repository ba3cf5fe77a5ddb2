import { describe, expect, test } from '@jest/globals';
import yargs from 'yargs';
import { z } from 'zod';
import { addSchemaOptions } from '../../commands/schema-options.js';
import { flag } from '../../src/runtime/flags.js';

const schema = z.object({
  count: z.number().int().default(8).meta(flag('Items')),
  kind: z.enum(['plain', 'fancy']).default('plain').meta(flag('Style')),
  dry_run: z.boolean().default(false).meta(flag('Change nothing')),
  inputs: z
    .array(z.string())
    .optional()
    .meta(flag('Input files', { array: true, alias: 'i' })),
  threads: z
    .number()
    .optional()
    .meta(flag('Threads', { defaultText: 'one per CPU' })),
  file_only: z.string().optional(),
});

describe('options made from a schema', () => {
  const parser = () => addSchemaOptions(yargs([]).exitProcess(false).fail(false).wrap(null), schema);

  test('types, choices, arrays and aliases come from the schema and its metadata', () => {
    const argv = parser().parseSync(['--count', '3', '--kind', 'fancy', '--dry-run', '-i', 'a.nii', 'b.nii']);
    expect(argv).toMatchObject({ count: 3, kind: 'fancy', 'dry-run': true, inputs: ['a.nii', 'b.nii'] });
    expect(() => parser().parseSync(['--kind', 'odd'])).toThrow(/Choices: "plain", "fancy"/);
  });

  test("help texts end with the schema's default; keys without a flag's metadata are no flag", async () => {
    const help = await parser().getHelp();
    expect(help).toMatch(/--count\s+Items \(default 8\)\s+\[number\]/);
    expect(help).toMatch(/--kind\s+Style \(default plain\)/);
    expect(help).toMatch(/--dry-run\s+Change nothing\s+\[boolean\]/);
    expect(help).toMatch(/--threads\s+Threads \(default: one per CPU\)/);
    expect(help).not.toContain('file-only');
  });
});
