import type { Argv, Options } from 'yargs';
import { z } from 'zod';
import { flagName, type FlagMeta } from '../src/runtime/flags.js';

/*
 * A command's options are declared once, in the zod schema that validates them: each key that is
 * also a flag carries its help text as metadata (`flag(…)`, src/runtime/flags.ts), and the yargs
 * option (its type, its choices, its help with the schema's default) is made from that.
 */

/**
 * The flags of every key of `schema` that has flag metadata, in the schema's order: the global ones
 * with `global`, the others without.
 */
export function addSchemaOptions<T>(yargs: Argv<T>, schema: z.ZodObject, global = false): Argv<T> {
  let declared = yargs;
  for (const [key, field] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    const meta = field.meta() as FlagMeta | undefined;
    if (meta?.describe === undefined || Boolean(meta.global) !== global) continue;
    declared = declared.option(flagName(key), {
      ...typeOf(field),
      ...(meta.alias ? { alias: meta.alias } : {}),
      ...(meta.array ? { array: true } : {}),
      ...(global ? { global: true } : {}),
      describe: helpText(field, meta),
    });
  }
  return declared;
}

/** The schema's default of a key, if it has one. */
function schemaDefault(field: z.ZodType): unknown {
  const parsed = field.safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}

function helpText(field: z.ZodType, meta: FlagMeta): string {
  if (meta.defaultText) return `${meta.describe} (default: ${meta.defaultText})`;
  const value = schemaDefault(field);
  // a switch that is off unless given needs no default in its help
  if (value === undefined || value === false) return meta.describe;
  return `${meta.describe} (default ${Array.isArray(value) ? value.join(',') : String(value)})`;
}

function typeOf(field: z.ZodType): Pick<Options, 'type' | 'choices'> {
  const inner = unwrapped(field);
  if (inner instanceof z.ZodEnum) return { choices: inner.options as string[] };
  if (inner instanceof z.ZodNumber) return { type: 'number' };
  if (inner instanceof z.ZodBoolean) return { type: 'boolean' };
  return { type: 'string' };
}

/** The type inside .default(), .optional() and .prefault(). */
function unwrapped(field: z.ZodType): z.ZodType {
  let inner = field;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional || inner instanceof z.ZodPrefault) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner;
}
