// Writes src/engine/kernels-wasm.ts from src/engine/kernels.wat: npm run build:wasm
import { writeFileSync } from 'node:fs';
import { kernelsModule } from './wasm-kernels.js';

writeFileSync(new URL('../../src/engine/kernels-wasm.ts', import.meta.url), await kernelsModule());
