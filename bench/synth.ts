/**
 * synth bench: the target study (8 subjects × 3 sessions at 96×112×96, 2 mm) on every core
 * and on one thread, in one run.
 */
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthesizeStudy } from '../src/synth/study.js';
import { toolVersion } from '../src/runtime/version.js';

const out = join(fileURLToPath(new URL('../..', import.meta.url)), 'bench', 'out', 'synth');

async function run(workers: number): Promise<number> {
  rmSync(out, { recursive: true, force: true });
  const start = performance.now();
  await synthesizeStudy({
    out,
    subjects: 8,
    sessions: [3, 3],
    cohort: 'infant',
    shape: [96, 112, 96],
    voxelMm: 2,
    warpMm: 3,
    labels: 'structures',
    seed: 1,
    overwrite: true,
    workers,
    version: toolVersion,
  });
  return (performance.now() - start) / 1000;
}

const cores = availableParallelism();
const parallel = await run(cores);
const single = await run(1);
console.log('synth bench: 8 subjects × 3 sessions, 96×112×96 at 2 mm (target: under 30 s)');
console.log(`${cores} threads: ${parallel.toFixed(1)} s`);
console.log(`1 thread:  ${single.toFixed(1)} s (threads give ${(single / parallel).toFixed(2)}×)`);
