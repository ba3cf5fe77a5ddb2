import type { Argv } from 'yargs';
import { z } from 'zod';
import type { Vec3 } from '../src/io/affine.js';
import { ExitCode } from '../src/runtime/errors.js';
import type { Progress } from '../src/runtime/progress.js';
import { toolVersion } from '../src/runtime/version.js';
import { synthesizeStudy } from '../src/synth/study.js';
import { commaList } from '../src/runtime/lists.js';
import type { LongisegCommand } from './command.js';
import { flag } from '../src/runtime/flags.js';
import { addSchemaOptions } from './schema-options.js';
import { globalSchema, resolveCommandOptions, type GlobalArgs } from './context.js';

const countRange = z.union([
  z.number().int().min(1),
  z.string().regex(/^\s*\d+\s*(-\s*\d+\s*)?$/, 'a count such as 3 or a range such as 2-4'),
]);

export const synthSchema = globalSchema
  .extend({
    out: z.string().min(1).meta(flag('Folder of the study (raw/, registered/, truth/, synth.json)')),
    subjects: z.number().int().min(1).max(999).default(8).meta(flag('Number of subjects')),
    sessions: countRange.default('2-4').meta(flag('Sessions per subject: a count or a range')),
    cohort: z
      .enum(['infant', 'aging'])
      .default('infant')
      .meta(
        flag('infant: growth and WM/GM contrast reversal (3–36 months); aging: ventricles enlarge, structures shrink'),
      ),
    shape: z
      .union([
        z.string().regex(/^\s*\d+\s*,\s*\d+\s*,\s*\d+\s*$/, 'three sizes such as 96,112,96'),
        z.array(z.number().int().min(16)).length(3),
      ])
      .default('96,112,96')
      .meta(flag('Grid size, multiples of 16')),
    voxel_mm: z.number().positive().max(10).default(2).meta(flag('Isotropic voxel size in mm')),
    warp_mm: z
      .number()
      .min(0)
      .max(3)
      .default(3)
      .meta(
        flag(
          "Amplitude of each session's smooth nonlinear displacement, on top of head motion and growth, 0 to 3 mm; 0: sessions differ only affinely",
        ),
      ),
    labels: z
      .enum(['structures', 'tissue'])
      .default('structures')
      .meta(flag('structures: cortex, WM, CSF, ventricles and 6 left/right pairs; tissue: GM/WM/CSF')),
    overwrite: z.boolean().default(false).meta(flag('Replace a non-empty --out folder')),
    workers: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta(flag('Worker threads', { defaultText: 'one per CPU' })),
  })
  .strict();

function parseRange(value: string | number): [number, number] {
  if (typeof value === 'number') return [value, value];
  const [low, high = low] = value.split('-').map((v) => Number(v.trim()));
  return [low, high];
}

export const synthCommand: LongisegCommand<Record<string, unknown>> = {
  command: 'synth',
  describe: 'Write a synthetic longitudinal BIDS study with known labels and transforms',
  builder: (yargs: Argv<GlobalArgs>) =>
    addSchemaOptions(yargs, synthSchema).example(
      '$0 synth --out study --subjects 4 --sessions 3 --cohort aging',
      'four elderly subjects with three sessions each',
    ),
  async run(argv, context) {
    const options = await resolveCommandOptions(synthSchema, argv);
    const shape = (typeof options.shape === 'string' ? commaList(options.shape).map(Number) : options.shape) as Vec3;
    let progress: Progress | undefined;
    const subjects = await synthesizeStudy(
      {
        out: options.out,
        subjects: options.subjects,
        sessions: parseRange(options.sessions),
        cohort: options.cohort,
        shape,
        voxelMm: options.voxel_mm,
        warpMm: options.warp_mm,
        labels: options.labels,
        seed: options.seed,
        overwrite: options.overwrite,
        workers: options.workers,
        version: toolVersion,
      },
      { signal: context.signal, onStart: (count) => (progress = context.progress('synth: subjects', count)) },
    );
    const sessions = subjects.reduce((sum, s) => sum + s.sessions.length, 0);
    progress?.succeed(`wrote ${subjects.length} subjects, ${sessions} sessions to ${options.out}`);
    return ExitCode.ok;
  },
};
