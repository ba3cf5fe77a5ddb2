import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { flagName } from './flags.js';

/**
 * Configuration files are JSON or YAML with snake_case keys; command-line flags are the same keys in
 * kebab-case and override the file. Every value passes one zod schema, so a flag and a config key
 * are validated by the same rule and reported with the same message.
 */
export type ConfigObject = Record<string, unknown>;

export async function readConfigFile(path: string): Promise<ConfigObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${path}: cannot read the config file (${code === 'ENOENT' ? 'no such file' : code})`);
  }
  const extension = extname(path).toLowerCase();
  let parsed: unknown;
  try {
    if (extension === '.json') {
      parsed = JSON.parse(text);
    } else if (extension === '.yaml' || extension === '.yml') {
      parsed = parseYaml(text, { prettyErrors: true });
    } else {
      throw new UsageError(`${path}: config files must end in .json, .yaml or .yml`);
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const detail = error instanceof YAMLParseError ? error.message.split('\n')[0] : (error as Error).message;
    throw new UsageError(`${path}: not valid ${extension === '.json' ? 'JSON' : 'YAML'} (${detail})`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`${path}: the top level must be a mapping of keys to values`);
  }
  refuseUnsafeKeys(parsed, path, []);
  return parsed as ConfigObject;
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Keys that name an object's prototype would change how every later lookup behaves; no config key is one of them. */
function refuseUnsafeKeys(value: unknown, path: string, at: string[]): void {
  if (typeof value !== 'object' || value === null) return;
  if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype)
    throw new UsageError(`${path}: key "${[...at, '__proto__'].join('.')}" is not allowed`);
  for (const key of Object.keys(value)) {
    if (UNSAFE_KEYS.has(key)) throw new UsageError(`${path}: key "${[...at, key].join('.')}" is not allowed`);
    refuseUnsafeKeys((value as Record<string, unknown>)[key], path, [...at, key]);
  }
}

/** Validates `input` against `schema`; the error names `source`, every key path at fault and what is allowed. */
export function validateConfig<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  // A misspelt key usually explains the missing one, so unknown keys come first.
  const issues = [...result.error.issues].sort(
    (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
  );
  const lines = issues.map((issue) => `  ${describeIssue(issue, schema)}`);
  throw new UsageError(`${source}: invalid configuration\n${lines.join('\n')}`);
}

function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType): string {
  const at = issue.path.map(String).join('.');
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys
        .map((key) => {
          const path = at ? `${at}.${key}` : key;
          const allowed = allowedKeys(schema, issue.path);
          const hint = closest(key, allowed);
          return `${path}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}; allowed keys: ${allowed.join(', ')}`;
        })
        .join('\n  ');
    case 'invalid_type':
      return `${at || '(top level)'}: expected ${issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `${at}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(issue.input)}`;
    case 'too_small':
      return `${at}: must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}, got ${describeValue(issue.input)}`;
    case 'too_big':
      return `${at}: must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}, got ${describeValue(issue.input)}`;
    default:
      return `${at || '(top level)'}: ${issue.message}`;
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${String(value)}`;
}

function allowedKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const key of path) {
    node = unwrap(node);
    node = node instanceof z.ZodObject ? node.shape[String(key)] : undefined;
  }
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function unwrap(node: unknown): unknown {
  let current = node;
  while (current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
    current = current.unwrap();
  }
  return current;
}

/** The allowed key at edit distance ≤ 2 from `key`, if one exists. */
function closest(key: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/**
 * The values of the flags the user actually passed, for the given config keys (snake_case keys;
 * the flags are the same names in kebab-case).
 */
export function flagValues(argv: object, keys: string[]): ConfigObject {
  const values: ConfigObject = {};
  for (const key of keys) {
    const value = (argv as ConfigObject)[flagName(key)];
    if (value !== undefined) values[key] = value;
  }
  return values;
}

/**
 * Layers of options (a preset, a config file, flags …), each over the ones before it, nested
 * mappings merged key by key, then validated by the schema; errors name `source`.
 */
export function resolveLayers<S extends z.ZodType>(schema: S, layers: ConfigObject[], source: string): z.output<S> {
  return validateConfig(schema, layers.reduce(mergeLayer, {}), source);
}

function mergeLayer(base: ConfigObject, over: ConfigObject): ConfigObject {
  const isMapping = (v: unknown): v is ConfigObject => typeof v === 'object' && v !== null && !Array.isArray(v);
  const merged: ConfigObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const below = merged[key];
    merged[key] = isMapping(below) && isMapping(value) ? mergeLayer(below, value) : value;
  }
  return merged;
}
