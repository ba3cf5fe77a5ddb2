// Writes src/engine/adam-kernel.ts from src/engine/adam.wat: npm run build:wasm
import { writeFileSync } from 'node:fs';
import { adamKernelModule } from './wasm-kernels.js';

writeFileSync(new URL('../../src/engine/adam-kernel.ts', import.meta.url), await adamKernelModule());
