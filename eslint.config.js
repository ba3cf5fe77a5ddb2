import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/out/', 'fixtures/', 'src/engine/kernels-wasm.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // properties left out of an object by destructuring its rest are meant to be unused
  { rules: { '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }] } },
);
