import { readFileSync } from 'node:fs';
import wabt from 'wabt';

const source = new URL('../../src/engine/kernels.wat', import.meta.url);

/**
 * src/engine/kernels-wasm.ts: the binary of kernels.wat, assembled by WABT, as base64; twice, for
 * the heap of tfjs's single-threaded build and for the shared heap (4 GiB at most) of its threaded one.
 */
export async function kernelsModule(): Promise<string> {
  const assembler = await wabt();
  const text = readFileSync(source, 'utf8');
  const binary = (wat: string) => {
    const parsed = assembler.parseWat('kernels.wat', wat, { simd: true, threads: true, bulk_memory: true });
    const { buffer } = parsed.toBinary({});
    parsed.destroy();
    return Buffer.from(buffer).toString('base64');
  };
  const shared = text.replace('(import "env" "memory" (memory 1))', '(import "env" "memory" (memory 1 65536 shared))');
  if (shared === text) throw new Error('kernels.wat: the memory import to make shared was not found');
  return [
    '// Generated from kernels.wat by `npm run build:wasm`; a test checks that it is current.',
    `export const KERNELS_WASM = '${binary(text)}';`,
    `export const KERNELS_WASM_SHARED = '${binary(shared)}';`,
    '',
  ].join('\n');
}
