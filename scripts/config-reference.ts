// Writes docs/config.md from the training schemas: npm run docs:config
import { writeFileSync } from 'node:fs';
import { configReference } from '../src/train/config-reference.js';

writeFileSync(new URL('../../docs/config.md', import.meta.url), configReference());
