/** Writes the 1 mm whole-brain predict case of the benches into the folder given: node dist/bench/gpu/whole-brain.js FOLDER */
import { mkdirSync } from 'node:fs';
import { wholeBrainCase } from '../steps.js';

const folder = process.argv[2];
if (!folder) throw new Error('usage: whole-brain.js FOLDER');
mkdirSync(folder, { recursive: true });
console.log(JSON.stringify(await wholeBrainCase(folder)));
