import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { applyAffine, identity4 } from '../../src/io/affine.js';
import { readNifti } from '../../src/io/nifti.js';
import { createVolume } from '../../src/io/volume.js';
import { runPreprocess } from '../../src/preprocess/run.js';
import type { SessionPairs } from '../../src/preprocess/session-pairs.js';
import type { Registrar } from '../../src/registration/registrar.js';
import { makeTempDir, synthTinyStudy } from '../helpers.js';

/** Session s (1-based) sits shifted by shift(s) mm; the registrar finds exactly that between any two sessions. */
const shift = (session: number) => [0.3 * session, -0.2 * session, 0.1 * ((session * session) % 5)];
const sessionOf = (file: string) => Number(/ses-(\d+)/.exec(file)![1]);

const shifting: Registrar = {
  name: 'elastix',
  version: 'test',
  threads: 1,
  affine: async () => identity4(),
  async deformable({ fixed, moving, initial }) {
    const grid = await readNifti(fixed);
    const [nx, ny, nz] = grid.shape;
    const voxels = nx * ny * nz;
    const [from, to] = [shift(sessionOf(fixed)), shift(sessionOf(moving))];
    const data = new Float32Array(3 * voxels);
    for (let k = 0, n = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, n++) {
          const p = applyAffine(grid.affine, [i, j, k]);
          const q = applyAffine(initial, [0, 1, 2].map((c) => p[c] + to[c] - from[c]) as [number, number, number]);
          for (let c = 0; c < 3; c++) data[n + c * voxels] = q[c] - p[c];
        }
    return createVolume(data, [nx, ny, nz, 3], grid.affine);
  },
};

describe('a subject of four sessions that differ by shifts', () => {
  const dir = makeTempDir();
  const raw = join(dir.path, 'study', 'raw');
  beforeAll(() => synthTinyStudy(join(dir.path, 'study'), { subjects: '1', sessions: '4' }));
  afterAll(() => dir.remove());

  const run = async (sessionPairs: SessionPairs) => {
    const out = join(dir.path, sessionPairs);
    const started: number[] = [];
    const summary = await runPreprocess(
      {
        ...{ bids: raw, out, modalities: ['T1w'], deformable: true, sessionPairs, overwrite: false },
        ...{ lockStaleHours: 1, registrar: shifting, biasCorrection: 'none', command: 'test', version: 'test' },
      },
      { onStart: ({ registrations }) => started.push(registrations) },
    );
    expect(summary.done).toEqual(['01']);
    return { out, registrations: started[0] };
  };

  test('lands in the same subject space with the cycle as with every pair: session s maps y ↦ y + t_s − mean t', async () => {
    const cycle = await run('cycle');
    const all = await run('all');
    // two affine rounds of four sessions, then the deformable pairs
    expect([cycle.registrations, all.registrations]).toEqual([8 + 8, 8 + 12]);
    const mean = [0, 1, 2].map((c) => [1, 2, 3, 4].reduce((sum, s) => sum + shift(s)[c], 0) / 4);
    for (const session of [1, 2, 3, 4]) {
      const name = `sub-01_ses-0${session}_from-native_to-subject_mode-image_xfm.nii.gz`;
      const [a, b] = await Promise.all(
        [cycle.out, all.out].map((out) => readNifti(join(out, 'sub-01', `ses-0${session}`, 'xfm', name))),
      );
      const voxels = a.data.length / 3;
      const [nx, ny, nz] = a.shape;
      const centre = nx / 2 + nx * (ny / 2 + ny * (nz / 2));
      let largest = 0;
      for (let v = 0; v < a.data.length; v++) largest = Math.max(largest, Math.abs(a.data[v] - b.data[v]));
      expect(largest).toBeLessThan(1e-3);
      for (let c = 0; c < 3; c++) expect(a.data[centre + c * voxels]).toBeCloseTo(shift(session)[c] - mean[c], 3);
    }
  }, 120_000);
});
