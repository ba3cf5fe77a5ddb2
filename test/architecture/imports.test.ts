import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/…). */
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Every TypeScript module under src/ and commands/ with the modules it imports statically (type imports included). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (folder: string) => {
    for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(join(root, path), 'utf8');
        const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gm)].map((m) =>
          normalize(join(dirname(path), m[1])).replace(/\.js$/, '.ts'),
        );
        graph.set(path, targets);
      }
    }
  };
  visit('src');
  visit('commands');
  return graph;
}

describe('module boundaries', () => {
  const graph = importGraph();

  test('the graph is read: the modules are found with their imports', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get(join('src', 'train', 'finetune-task.ts'))).toContain(join('src', 'model', 'unet.ts'));
  });

  test('no import cycle between modules', () => {
    const cycles: string[] = [];
    const done = new Set<string>();
    const path: string[] = [];
    const visit = (module: string) => {
      if (path.includes(module)) {
        cycles.push([...path.slice(path.indexOf(module)), module].join(' → '));
        return;
      }
      if (done.has(module)) return;
      path.push(module);
      for (const target of graph.get(module) ?? []) visit(target);
      path.pop();
      done.add(module);
    };
    for (const module of graph.keys()) visit(module);
    expect(cycles).toEqual([]);
  });

  test('src/model (the network, heads, checkpoint format) imports nothing from src/train or src/losses', () => {
    const model = [...graph].filter(([module]) => relative('src/model', module).split('/')[0] !== '..');
    expect(model.length).toBeGreaterThan(5);
    const outward = model.flatMap(([module, targets]) =>
      targets.filter((t) => /^src\/(train|losses)\//.test(t)).map((t) => `${module} → ${t}`),
    );
    expect(outward).toEqual([]);
  });

  test("tfjs's internals are reached through its adapter alone: no 'as unknown as' cast anywhere else", () => {
    const cast = ` ${['as', 'unknown', 'as'].join(' ')} `; // spelled so that this file does not hold it
    const casts: string[] = [];
    const visit = (folder: string) => {
      for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) visit(path);
        else if (entry.name.endsWith('.ts') && path !== join('src', 'engine', 'tfjs-internals.ts')) {
          readFileSync(join(root, path), 'utf8')
            .split('\n')
            .forEach((line, n) => {
              if (line.includes(cast)) casts.push(`${path}:${n + 1}`);
            });
        }
      }
    };
    for (const folder of ['src', 'commands', 'test', 'bench', 'scripts']) visit(folder);
    expect(casts).toEqual([]);
  });
});
