/**
 * preprocess bench: what each scheme of deformable session pairs costs per subject and how well it
 * aligns the sessions, on one synthetic subject of 4, 8 and 10 sessions (48×64×48 at 3 mm, or
 * BENCH_SHAPE at BENCH_VOXEL_MM), with the elastix command line (or BENCH_REGISTRATION: ants,
 * elastix-wasm) on every core, one run after the other. A run is PAIRS:SESSIONS[:BIAS]: PAIRS all,
 * cycle, neighbours or affine (--no-deformable), BIAS a --bias-correction (none by default, as the
 * first measurements; auto runs ANTs' N4 with ants).
 *
 *   BENCH_COHORTS=aging,infant  BENCH_RUNS=all:4,cycle:4,cycle:8,all:8,cycle:10  npm run bench -- preprocess
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNifti } from '../src/io/nifti.js';
import { sessionDice } from '../src/metrics/longitudinal.js';
import { registeredPairs, type SessionPairs } from '../src/preprocess/session-pairs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = join(root, 'bench', 'out', 'preprocess');
const longiseg = join(root, 'bin', 'longiseg');
const cohorts = (process.env.BENCH_COHORTS ?? 'aging,infant').split(',');
const runs = (process.env.BENCH_RUNS ?? 'all:4,cycle:4,cycle:8,all:8,cycle:10')
  .split(',')
  .map((run) => run.split(':'))
  .map(([pairs, sessions, bias]) => ({ pairs, sessions: Number(sessions), bias: bias ?? 'none' }));
const shape = process.env.BENCH_SHAPE ?? '48,64,48';
const voxelMm = process.env.BENCH_VOXEL_MM ?? '3';
const registration = process.env.BENCH_REGISTRATION ?? 'elastix';

const cli = (args: string[]) =>
  execFileSync(longiseg, [...args, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });

/** Mean over all pairs of sessions of the mean Dice over structures, and the lowest pair's. */
async function interSessionDice(registered: string): Promise<{ mean: number; lowest: number }> {
  const folder = join(registered, 'derivatives', 'labels', 'sub-01');
  const labels = await Promise.all(
    readdirSync(folder)
      .sort()
      .map((session) => readNifti(join(folder, session, 'anat', `sub-01_${session}_space-subject_dseg.nii.gz`))),
  );
  const pairs: number[] = [];
  for (let a = 0; a < labels.length; a++) {
    for (let b = a + 1; b < labels.length; b++) {
      const dice = [...sessionDice(labels[a], labels[b]).values()];
      pairs.push(dice.reduce((sum, d) => sum + d, 0) / dice.length);
    }
  }
  return { mean: pairs.reduce((sum, d) => sum + d, 0) / pairs.length, lowest: Math.min(...pairs) };
}

console.log(`preprocess bench: one synthetic subject, ${shape} at ${voxelMm} mm, --registration ${registration}`);
console.log(
  '| cohort | pairs | bias correction | sessions | deformable registrations | wall time | mean label Dice between sessions (lowest pair) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const cohort of cohorts) {
  const base = new Map<string, number>();
  for (const { pairs, sessions, bias } of runs) {
    const study = join(out, `${cohort}-${sessions}-${shape.replaceAll(',', 'x')}`);
    const synth = ['--subjects', '1', '--sessions', `${sessions}`, '--cohort', cohort, '--shape', shape];
    if (!existsSync(join(study, 'raw'))) cli(['synth', '--out', study, ...synth, '--voxel-mm', voxelMm, '--seed', '1']);
    const registered = join(
      out,
      `${cohort}-${sessions}-${shape.replaceAll(',', 'x')}-${registration}-${pairs}-${bias}`,
    );
    rmSync(registered, { recursive: true, force: true });
    const scheme = pairs === 'affine' ? ['--no-deformable'] : ['--session-pairs', pairs];
    const start = performance.now();
    cli(
      ['preprocess', '--bids', join(study, 'raw'), '--out', registered, '--labels', 'labels', '--no-report'].concat([
        '--registration',
        registration,
        '--bias-correction',
        bias,
        ...scheme,
      ]),
    );
    const seconds = (performance.now() - start) / 1000;
    const key = `${pairs}-${bias}`;
    const first = base.get(key) ?? seconds;
    base.set(key, first);
    const dice = await interSessionDice(registered);
    const registrations = pairs === 'affine' ? 0 : registeredPairs(sessions, pairs as SessionPairs).length;
    console.log(
      `| ${cohort} | ${pairs} | ${bias} | ${sessions} | ${registrations} | ${seconds.toFixed(0)} s (${(seconds / first).toFixed(2)}×) | ${dice.mean.toFixed(3)} (${dice.lowest.toFixed(3)}) |`,
    );
  }
}
