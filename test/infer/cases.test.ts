import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listCases } from '../../src/infer/cases.js';
import { makeTempDir } from '../helpers.js';

describe('prediction cases', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());

  test('a BIDS tree and a single subject folder give the same BIDS output layout', async () => {
    for (const session of ['01', '02']) {
      const anat = join(dir.path, 'study', 'sub-04', `ses-${session}`, 'anat');
      mkdirSync(anat, { recursive: true });
      writeFileSync(join(anat, `sub-04_ses-${session}_T1w.nii.gz`), '');
    }
    const out = join(dir.path, 'out');
    const expected = ['01', '02'].map((s) => join(out, 'sub-04', `ses-${s}`, 'anat', `sub-04_ses-${s}_dseg.nii.gz`));
    for (const input of [join(dir.path, 'study'), join(dir.path, 'study', 'sub-04')]) {
      const list = await listCases([input], out, ['T1w'], false);
      expect(list.bids).toBe(true);
      expect(list.cases.map((c) => c.output).sort()).toEqual(expected);
    }
  });
});
