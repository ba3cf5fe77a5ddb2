import { z } from 'zod';
import { finetuneSchema, PRESETS, pretrainSchema } from './config.js';

export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  items?: JsonSchema | JsonSchema[];
  prefixItems?: JsonSchema[];
  anyOf?: JsonSchema[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  /** What the key means (the schema's .describe()). */
  description?: string;
}

function typeOf(schema: JsonSchema): string {
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' or ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (schema.prefixItems) return `[${schema.prefixItems.map(typeOf).join(', ')}]`;
  if (schema.type === 'array')
    return `list of ${schema.items && !Array.isArray(schema.items) ? typeOf(schema.items) : 'values'}`;
  const bounds: string[] = [];
  if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) bounds.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER) bounds.push(`≤ ${schema.maximum}`);
  if (schema.exclusiveMaximum !== undefined) bounds.push(`< ${schema.exclusiveMaximum}`);
  return `${String(schema.type)}${bounds.length > 0 ? ` (${bounds.join(', ')})` : ''}`;
}

export interface ConfigKey {
  key: string;
  schema: JsonSchema;
  /** Listed in its object's `required` (no default). */
  required: boolean;
}

/** Every leaf key of a schema, dotted, with its JSON schema. */
export function configKeys(schema: z.ZodType): ConfigKey[] {
  const walk = (node: JsonSchema, prefix: string): ConfigKey[] =>
    Object.entries(node.properties ?? {}).flatMap(([key, child]) =>
      child.properties
        ? walk(child, `${prefix}${key}.`)
        : [{ key: `${prefix}${key}`, schema: child, required: node.required?.includes(key) ?? false }],
    );
  return walk(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema, '');
}

function table(schema: z.ZodType): string {
  const defaultOf = ({ schema: node, required }: ConfigKey) =>
    node.default !== undefined ? `\`${JSON.stringify(node.default)}\`` : required ? 'required' : '–';
  const rows = configKeys(schema).map(
    (entry) =>
      `| \`${entry.key}\` | ${typeOf(entry.schema)} | ${defaultOf(entry)} | ${entry.schema.description ?? ''} |`,
  );
  return ['| key | type | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function presets(kind: 'pretrain' | 'finetune'): string {
  return Object.entries(PRESETS[kind])
    .map(([name, values]) => `- \`${name}\`: \`${JSON.stringify(values)}\``)
    .join('\n');
}

/** docs/config.md: every key of both training configurations, with type, default and meaning. */
export function configReference(): string {
  return `# Configuration reference

Generated from the schemas in \`src/train/config.ts\` by \`npm run docs:config\`; a test checks that
it is current. Config files are YAML or JSON with these snake_case keys; nested keys are sections
(\`optimizer.lr\` is \`lr:\` under \`optimizer:\`). A file may start from a preset (\`preset: small\`)
and override any key; \`--data\`, \`--out\`, \`--seed\` and \`--backend\` on the command line override
the file. Unknown keys and values of the wrong type are refused (exit 2) with the key named.

## \`longiseg pretrain\`

${table(pretrainSchema)}

Presets:

${presets('pretrain')}

## \`longiseg finetune\`

${table(finetuneSchema)}

Presets:

${presets('finetune')}
`;
}
