import { describe, expect, test } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.js';
import { checkTfjsInternals, engineInternals, missingInternals, TESTED_TFJS } from '../../src/engine/tfjs-internals.js';
import { exitCodeOf, IncompatibleInstallError } from '../../src/runtime/errors.js';

describe('the tfjs internals the kernels use', () => {
  test('the tested version is the one package.json pins and the one installed', () => {
    const pinned = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).dependencies[
      '@tensorflow/tfjs'
    ];
    expect([pinned, tf.version_core]).toEqual([TESTED_TFJS, TESTED_TFJS]);
  });

  test.each(['wasm', 'cpu'] as const)('are all there on %s', async (backend) => {
    await initBackend(backend);
    expect(missingInternals()).toEqual([]);
  });

  test('one that is gone is an error naming it and both versions, exit 4', async () => {
    await initBackend('wasm');
    const engine = engineInternals();
    const addTapeNode: unknown = Reflect.get(engine, 'addTapeNode');
    Reflect.set(engine, 'addTapeNode', undefined);
    let error: unknown;
    try {
      checkTfjsInternals();
    } catch (caught) {
      error = caught;
    } finally {
      Reflect.set(engine, 'addTapeNode', addTapeNode);
    }
    expect(error).toBeInstanceOf(IncompatibleInstallError);
    expect(exitCodeOf(error)).toBe(4);
    expect((error as Error).message).toContain(
      `TensorFlow.js ${tf.version_core} is installed, but longiseg was written against ${TESTED_TFJS}`,
    );
    expect((error as Error).message).toContain('engine.addTapeNode');
    expect(missingInternals()).toEqual([]);
  });
});
