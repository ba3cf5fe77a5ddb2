import { readFileSync } from 'node:fs';
import wabt from 'wabt';

const source = new URL('../../src/engine/kernels.wat', import.meta.url);

/** src/engine/kernels-wasm.ts: the binary of kernels.wat, assembled by WABT, as base64. */
export async function kernelsModule(): Promise<string> {
  const assembler = await wabt();
  const parsed = assembler.parseWat('kernels.wat', readFileSync(source, 'utf8'), { simd: true });
  const { buffer } = parsed.toBinary({});
  parsed.destroy();
  return `// Generated from kernels.wat by \`npm run build:wasm\`; a test checks that it is current.\nexport const KERNELS_WASM = '${Buffer.from(buffer).toString('base64')}';\n`;
}
