import { readFileSync } from 'node:fs';
import wabt from 'wabt';

const source = new URL('../../src/engine/adam.wat', import.meta.url);

/** src/engine/adam-kernel.ts: the binary of adam.wat, assembled by WABT, as base64. */
export async function adamKernelModule(): Promise<string> {
  const assembler = await wabt();
  const parsed = assembler.parseWat('adam.wat', readFileSync(source, 'utf8'), { simd: true });
  const { buffer } = parsed.toBinary({});
  parsed.destroy();
  return `// Generated from adam.wat by \`npm run build:wasm\`; a test checks that it is current.\nexport const ADAM_WASM = '${Buffer.from(buffer).toString('base64')}';\n`;
}
