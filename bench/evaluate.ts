/**
 * evaluate bench: 20 cases of 182×218×182 voxels (1 mm) with 33 labels. Times longiseg on one
 * thread and on every core, and scipy (Debian python3-scipy) on the same files in the same run,
 * with distance transforms on each label's bounding box (same algorithm) and on the whole volume.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeNifti } from '../src/io/nifti.js';
import { createVolume } from '../src/io/volume.js';
import { evaluateFolders } from '../src/metrics/evaluate.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outDir = join(root, 'bench', 'out', 'evaluate');
const shape = [182, 218, 182] as const;
const CASES = Number(process.env.BENCH_CASES ?? 20);
const SCIPY_CASES = Number(process.env.BENCH_SCIPY_CASES ?? 2);

/** A brain-sized ellipsoid cut into 33 Voronoi parcels; the prediction moves the seeds a little. */
function parcellation(seed: number, jitter: number): Uint8Array {
  let state = seed;
  const random = () => (state = (state * 1664525 + 1013904223) % 4294967296) / 4294967296;
  const seeds: number[][] = [];
  for (let l = 0; l < 33; l++) seeds.push([0.25 + 0.5 * random(), 0.25 + 0.5 * random(), 0.25 + 0.5 * random()]);
  const moved = seeds.map((s) => s.map((v) => v + jitter * (random() - 0.5)));
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let k = 0, n = 0; k < shape[2]; k++) {
    for (let j = 0; j < shape[1]; j++) {
      for (let i = 0; i < shape[0]; i++, n++) {
        const [x, y, z] = [i / shape[0], j / shape[1], k / shape[2]];
        if ((x - 0.5) ** 2 / 0.16 + (y - 0.5) ** 2 / 0.2 + (z - 0.5) ** 2 / 0.14 > 1) continue;
        let best = 0;
        let bestDistance = Infinity;
        for (let l = 0; l < 33; l++) {
          const d = (x - moved[l][0]) ** 2 + (y - moved[l][1]) ** 2 + (z - moved[l][2]) ** 2;
          if (d < bestDistance) {
            bestDistance = d;
            best = l + 1;
          }
        }
        data[n] = best;
      }
    }
  }
  return data;
}

async function makeCases(): Promise<void> {
  const affine = [
    [1, 0, 0, -90],
    [0, 1, 0, -126],
    [0, 0, 1, -72],
    [0, 0, 0, 1],
  ];
  for (const side of ['pred', 'ref']) mkdirSync(join(outDir, side), { recursive: true });
  for (let c = 0; c < CASES; c++) {
    const name = `case${String(c).padStart(2, '0')}.nii.gz`;
    if (existsSync(join(outDir, 'ref', name))) continue;
    await writeNifti(join(outDir, 'ref', name), createVolume(parcellation(1000 + c, 0), [...shape], affine), {
      datatype: 'uint8',
    });
    await writeNifti(join(outDir, 'pred', name), createVolume(parcellation(1000 + c, 0.04), [...shape], affine), {
      datatype: 'uint8',
    });
  }
}

async function timeLongiseg(workers: number): Promise<{ seconds: number; hd95: Record<string, number | null> }> {
  const start = performance.now();
  const result = await evaluateFolders({
    pred: join(outDir, 'pred'),
    ref: join(outDir, 'ref'),
    labels: { kind: 'auto' },
    longitudinal: false,
    annualize: false,
    hdPercentile: 95,
    workers,
    resample: false,
    allowMissing: false,
  });
  const seconds = (performance.now() - start) / 1000;
  return { seconds, hd95: Object.fromEntries(result.cases[0].metrics.map((m) => [String(m.label), m.hd])) };
}

function timeScipy(mode: 'crop' | 'whole'): { perCase: number; hd95: Record<string, number> } {
  const files = Array.from({ length: SCIPY_CASES }, (_, c) => `case${String(c).padStart(2, '0')}.nii.gz`).flatMap(
    (name) => [join(outDir, 'pred', name), join(outDir, 'ref', name)],
  );
  const output = execFileSync('/usr/bin/python3', [join(root, 'bench', 'reference_metrics.py'), mode, ...files], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const { seconds, hd95 } = JSON.parse(output) as { seconds: number[]; hd95: Record<string, number>[] };
  return { perCase: seconds.reduce((a, b) => a + b) / seconds.length, hd95: hd95[0] };
}

await makeCases();
const cores = availableParallelism();
const single = await timeLongiseg(1);
const parallel = await timeLongiseg(cores);
const crop = timeScipy('crop');
const whole = timeScipy('whole');
const worst = Math.max(...Object.entries(crop.hd95).map(([label, v]) => Math.abs(v - (single.hd95[label] ?? NaN))));
const perCase = single.seconds / CASES;
console.log(`evaluate bench: ${CASES} cases of ${shape.join('×')} voxels, 33 labels`);
console.log(`longiseg, 1 thread:          ${perCase.toFixed(2)} s per case (all metrics, file reading included)`);
console.log(
  `longiseg, ${cores} threads:         ${(parallel.seconds / CASES).toFixed(2)} s per case, ${parallel.seconds.toFixed(1)} s in all (${(single.seconds / parallel.seconds).toFixed(2)}× from threads)`,
);
console.log(
  `scipy, bounding-box EDT:     ${crop.perCase.toFixed(2)} s per case (${SCIPY_CASES} cases) → longiseg ${(crop.perCase / perCase).toFixed(2)}× faster`,
);
console.log(
  `scipy, whole-volume EDT:     ${whole.perCase.toFixed(2)} s per case (${SCIPY_CASES} cases) → longiseg ${(whole.perCase / perCase).toFixed(2)}× faster`,
);
console.log(`largest HD95 difference to scipy on case00: ${worst.toExponential(2)} mm`);
