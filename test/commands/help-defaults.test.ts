import { describe, expect, test } from '@jest/globals';
import type { Argv } from 'yargs';
import { z } from 'zod';
import { addGlobalOptions, globalSchema, type GlobalArgs } from '../../commands/context.js';
import { demoSchema } from '../../commands/demo.js';
import { evaluateSchema } from '../../commands/evaluate.js';
import { predictSchema } from '../../commands/predict.js';
import { preprocessSchema } from '../../commands/preprocess.js';
import { commands } from '../../commands/registry.js';
import { slurmSchema } from '../../commands/slurm.js';
import { synthSchema } from '../../commands/synth.js';
import { runFlagsSchema } from '../../commands/train-common.js';
import { finetuneSchema, pretrainSchema } from '../../src/train/config.js';

/** The schema that resolves each command's options. */
const SCHEMAS: Record<string, z.ZodObject> = {
  demo: demoSchema,
  synth: synthSchema,
  preprocess: preprocessSchema,
  // a training command's flags: its config keys, then the run's own flags
  pretrain: z.object({ ...pretrainSchema.shape, ...runFlagsSchema.shape }),
  finetune: z.object({ ...finetuneSchema.shape, ...runFlagsSchema.shape }),
  predict: predictSchema,
  evaluate: evaluateSchema,
  slurm: slurmSchema,
};

/** Every option a builder declares, with its help text, read by a stand-in for yargs. */
function declaredOptions(builder: (yargs: Argv<GlobalArgs>) => unknown): Map<string, string> {
  const options = new Map<string, string>();
  const recorder: object = new Proxy(
    {},
    {
      get:
        (_, method) =>
        (...args: unknown[]) => {
          if (method === 'option' || method === 'positional') {
            options.set(args[0] as string, (args[1] as { describe?: string }).describe ?? '');
          }
          return recorder;
        },
    },
  );
  builder(recorder as Argv<GlobalArgs>);
  return options;
}

/**
 * The value a help text gives as the default: "(default 8)", "(default 0.5, as nnU-Net)", "(default
 * true; …)", "(default auto: …)". Undefined for a described default such as "(default: one per CPU)".
 */
function claimedDefault(help: string): string | undefined {
  const match = /\(default ([^:;)]+?)(?:, |[:;)])/.exec(help);
  return match?.[1].trim();
}

describe('help texts', () => {
  test('the default-claim reader', () => {
    expect(claimedDefault('Number of subjects (default 8)')).toBe('8');
    expect(claimedDefault('Overlap (default 0.5, as nnU-Net)')).toBe('0.5');
    expect(claimedDefault('Grid (default 96,112,96)')).toBe('96,112,96');
    expect(claimedDefault('Deformable (default true; --no-deformable for affine only)')).toBe('true');
    expect(claimedDefault('Threads (default: one per CPU)')).toBeUndefined();
  });

  const builders: [string, z.ZodObject, (yargs: Argv<GlobalArgs>) => unknown][] = [
    ['every command', globalSchema, addGlobalOptions],
    ...commands.map(
      (c) =>
        [c.command.split(' ')[0], SCHEMAS[c.command.split(' ')[0]], c.builder] as [
          string,
          z.ZodObject,
          (yargs: Argv<GlobalArgs>) => unknown,
        ],
    ),
  ];
  let checked = 0;

  test('every command with options has its schema here', () => {
    expect(builders.filter(([name, schema]) => !schema && name !== 'doctor').map(([name]) => name)).toEqual([]);
  });

  test.each(builders.filter(([, schema]) => schema))(
    'every default that the help of %s states is the schema default',
    (_, schema, builder) => {
      const claims = [...declaredOptions(builder)]
        .map(([flag, help]) => [flag, claimedDefault(help)] as const)
        .filter((claim): claim is readonly [string, string] => claim[1] !== undefined);
      const mismatches = claims.flatMap(([flag, claimed]) => {
        const field = schema.shape[flag.replace(/-/g, '_')] as z.ZodType | undefined;
        const parsed = field?.safeParse(undefined);
        const actual = parsed?.success ? String(parsed.data) : '(no schema default)';
        return actual === claimed ? [] : [`--${flag}: help says ${claimed}, schema ${actual}`];
      });
      checked += claims.length;
      expect(mismatches).toEqual([]);
    },
  );

  test('the checks above read the stated defaults', () => {
    expect(checked).toBeGreaterThanOrEqual(20);
  });
});
