// run_ants_cli.mjs WORK: longiseg's AntsCli (built in dist/) on WORK/fixed.nii.gz and WORK/moving.nii.gz, as preprocess
// runs it: the affine call, then SyN started from its result; WORK/files.json lists what each call left.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { argv } from 'node:process';
import { AntsCli } from '../../../dist/src/registration/ants-cli.js';

const work = argv[2];
const ants = new AntsCli('2.5', 1);
const task = (name) => ({
  fixed: join(work, 'fixed.nii.gz'),
  moving: join(work, 'moving.nii.gz'),
  work: join(work, name),
  stage: `record ${name}`,
});
const affine = await ants.affine(task('work-affine'));
await ants.deformable({ ...task('work-syn'), initial: affine });
const files = Object.fromEntries(
  ['work-affine', 'work-syn'].map((name) => [
    name,
    readdirSync(join(work, name))
      .filter((f) => !f.endsWith('.log'))
      .sort(),
  ]),
);
writeFileSync(join(work, 'files.json'), `${JSON.stringify(files, null, 2)}\n`);
