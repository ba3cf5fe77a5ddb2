import { describe, expect, test } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.js';
import { checkTfjsInternals, engineInternals, missingInternals, TESTED_TFJS } from '../../src/engine/tfjs-internals.js';
import { tensorFilled } from '../../src/engine/heap.js';
import { exitCodeOf, HeapExhaustedError, IncompatibleInstallError } from '../../src/runtime/errors.js';

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

  test.each([1, 2])(
    'at %i thread(s), a tensor the full wasm heap cannot hold is a HeapExhaustedError (exit 4), and the heap still works',
    async (threads) => {
      await initBackend('wasm', () => {}, threads);
      // 2.2 GB each, never written, so the memory they reserve is not touched
      const large = () => tensorFilled([550_000_000], () => {});
      const first = large();
      let error: unknown;
      try {
        large().dispose();
      } catch (caught) {
        error = caught;
      } finally {
        first.dispose();
      }
      expect(error).toBeInstanceOf(HeapExhaustedError);
      expect(exitCodeOf(error)).toBe(4);
      expect((error as Error).message).toMatch(
        /WebAssembly heap is full: 2098\.1 MiB more did not fit .*--backend webgpu/,
      );
      expect(Array.from(tf.add(tf.ones([3]), 1).dataSync())).toEqual([2, 2, 2]);
      await initBackend('wasm');
    },
  );
});
