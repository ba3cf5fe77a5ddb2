import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyAffine, identity4, type Mat4 } from '../../src/io/affine.js';
import { readNifti } from '../../src/io/nifti.js';
import { createVolume } from '../../src/io/volume.js';
import { divergence } from '../../src/preprocess/quality.js';
import { runPreprocess } from '../../src/preprocess/run.js';
import type { Registrar } from '../../src/registration/registrar.js';
import { ExitCode } from '../../src/runtime/errors.js';
import { tinyStudy } from '../helpers.js';

/** A registrar whose deformable step mirrors left and right (determinant −1 everywhere). */
const mirroring: Registrar = {
  name: 'elastix',
  version: 'test',
  threads: 1,
  affine: async () => identity4(),
  async deformable({ fixed, initial }) {
    const grid = await readNifti(fixed);
    const [nx, ny, nz] = grid.shape;
    const voxels = nx * ny * nz;
    const centre = applyAffine(grid.affine, [(nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2]);
    const mirror: Mat4 = [
      [-1, 0, 0, 2 * centre[0]],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
    const data = new Float32Array(3 * voxels);
    for (let k = 0, n = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, n++) {
          const p = applyAffine(grid.affine, [i, j, k]);
          const q = applyAffine(initial, applyAffine(mirror, p));
          for (let c = 0; c < 3; c++) data[n + c * voxels] = q[c] - p[c];
        }
    return createVolume(data, [nx, ny, nz, 3], grid.affine);
  },
};

describe('a registration that diverges', () => {
  const { dir } = tinyStudy();

  test('fails its subject with exit 4 and a qc.json that says why; nothing else of the subject is written', async () => {
    const out = join(dir.path, 'registered');
    const started: { subjects: number; registrations: number }[] = [];
    const finished: string[] = [];
    const summary = await runPreprocess(
      {
        bids: join(dir.path, 'study', 'raw'),
        out,
        modalities: ['T1w'],
        subjects: ['sub-01'],
        deformable: true,
        sessionPairs: 'cycle',
        biasCorrection: 'none',
        overwrite: false,
        lockStaleHours: 1,
        registrar: mirroring,
        command: 'test',
        version: 'test',
      },
      { onStart: (work) => started.push(work), onRegistration: (stage) => finished.push(stage) },
    );
    // the progress counts what runs: two affine rounds of both sessions, then each ordered pair deformably
    expect(started).toEqual([{ subjects: 1, registrations: 6 }]);
    expect(finished).toHaveLength(6);
    expect(finished.at(-1)).toBe('sub-01 ses-01 deformable to ses-02');
    expect(summary.done).toEqual([]);
    expect(summary.failed).toEqual([
      {
        subject: '01',
        message: expect.stringMatching(
          /ses-01: the deformation folds \(Jacobian determinant ≤ 0\) over [\d.]+ % of the head .*; ses-02: /,
        ),
        exitCode: ExitCode.externalTool,
      },
    ]);
    const qc = JSON.parse(readFileSync(join(out, 'sub-01', 'qc.json'), 'utf8'));
    expect(qc.failed).toMatch(/nothing of the subject was written but qc.json/);
    // the subject space is the midpoint of a session and its mirror image: flattened, det ≈ 0
    expect(qc.sessions['ses-01'].folded_share).toBeGreaterThan(0.01);
    expect(qc.sessions['ses-01'].jacobian_min).toBeLessThanOrEqual(0);
    expect(existsSync(join(out, 'sub-01', 'ses-01'))).toBe(false);
    expect(existsSync(join(out, 'sub-01', 'done.json'))).toBe(false);
  });

  test('a registration that lowers the correlation with the template has diverged too', () => {
    const quality = { ncc_before: 0.9, ncc_after: 0.8, jacobian_min: 0.5, jacobian_max: 1.5, folded_share: 0 };
    expect(divergence('ses-02', quality)).toEqual([
      'ses-02: registration lowered the correlation with the subject template by more than 0.01 (NCC 0.900 before, 0.800 after)',
    ]);
    expect(divergence('ses-02', { ...quality, ncc_after: 0.895, folded_share: 0.005 })).toEqual([]);
  });
});
