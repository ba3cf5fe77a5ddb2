import { join } from 'node:path';
import { applyAffine, invertAffine, type Mat4, type Vec3 } from '../io/affine.js';
import { writeNifti } from '../io/nifti.js';
import { resampleThroughField } from '../io/resample.js';
import { createVolume } from '../io/volume.js';
import { formatTsv } from '../io/tsv.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { Random } from '../runtime/random.js';
import { labelLookup, renderFineLabels, warpAt, type LabelSet, type WarpTerm } from './anatomy.js';
import { planSubject, type Cohort, type SessionPlan } from './cohort.js';
import { renderT1w } from './intensity.js';

export interface SubjectTask {
  staging: string;
  index: number;
  seed: number;
  cohort: Cohort;
  sessions: [number, number];
  shape: Vec3;
  voxelMm: number;
  /** Amplitude (mm) of each session's smooth nonlinear displacement; 0 keeps sessions affine to each other. */
  warpMm: number;
  labels: LabelSet;
  subjectDigits: number;
}

export interface SubjectSummary {
  subject: string;
  sex: string;
  sessions: { id: string; ageYears: number; ageMonths?: number }[];
}

/**
 * Displacement fields are stored as int16 with scl_slope: steps of 1 µm (coarser only where the
 * field exceeds ±32 mm), exact enough for any check and a fraction of the size of float32.
 */
function fieldStep(field: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < field.length; i++) largest = Math.max(largest, Math.abs(field[i]));
  return Math.max(1, Math.ceil(largest / 32)) * 0.001;
}

/** The grid of every image: RAS, isotropic, the world origin at the centre of the field of view. */
export function studyGrid(shape: Vec3, voxelMm: number): Mat4 {
  return [
    [voxelMm, 0, 0, (-(shape[0] - 1) / 2) * voxelMm],
    [0, voxelMm, 0, (-(shape[1] - 1) / 2) * voxelMm],
    [0, 0, voxelMm, (-(shape[2] - 1) / 2) * voxelMm],
    [0, 0, 0, 1],
  ];
}

function displacementAt(terms: WarpTerm[][], p: Vec3): Vec3 {
  return terms.map((axis) => warpAt(axis, p[0], p[1], p[2])) as Vec3;
}

/** A session's subject → native map and its inverse (fixed-point iteration x = z − w(x), a contraction). */
function sessionMaps(session: SessionPlan): { toNative: (x: Vec3) => Vec3; toSubject: (y: Vec3) => Vec3 } {
  const fromNative = invertAffine(session.subjectToNative);
  return {
    toNative: (x) => {
      const w = displacementAt(session.warp, x);
      return applyAffine(session.subjectToNative, [x[0] + w[0], x[1] + w[1], x[2] + w[2]]);
    },
    toSubject: (y) => {
      const z = applyAffine(fromNative, y);
      let x: Vec3 = [...z];
      for (let iteration = 0; iteration < 50; iteration++) {
        const w = displacementAt(session.warp, x);
        const next: Vec3 = [z[0] - w[0], z[1] - w[1], z[2] - w[2]];
        const change = Math.abs(next[0] - x[0]) + Math.abs(next[1] - x[1]) + Math.abs(next[2] - x[2]);
        x = next;
        if (change < 1e-6) break;
      }
      return x;
    },
  };
}

/** Displacement u(x) = T(x) − x on a grid (4D, components last), in mm. */
function displacementField(shape: Vec3, grid: Mat4, transform: (x: Vec3) => Vec3): Float32Array {
  const count = shape[0] * shape[1] * shape[2];
  const field = new Float32Array(count * 3);
  for (let k = 0, n = 0; k < shape[2]; k++) {
    for (let j = 0; j < shape[1]; j++) {
      for (let i = 0; i < shape[0]; i++, n++) {
        const x = applyAffine(grid, [i, j, k]);
        const y = transform(x);
        for (let c = 0; c < 3; c++) field[n + c * count] = y[c] - x[c];
      }
    }
  }
  return field;
}

/** Writes every file of one subject into the staging folder of the study. */
export async function synthesizeSubject(task: SubjectTask): Promise<SubjectSummary> {
  const random = new Random(task.seed).fork(task.index);
  const subject = String(task.index + 1).padStart(task.subjectDigits, '0');
  const plan = planSubject(task.cohort, random.integer(task.sessions[0], task.sessions[1]), random, task.warpMm);
  const grid = studyGrid(task.shape, task.voxelMm);
  const lookup = labelLookup(task.labels);
  const toLabels = (fine: Uint8Array) => fine.map((f) => lookup[f]);
  for (const [s, session] of plan.sessions.entries()) {
    const name = `sub-${subject}_ses-${session.id}`;
    const anat = (root: string) => join(task.staging, root, `sub-${subject}`, `ses-${session.id}`, 'anat');
    const labelsAnat = (root: string) =>
      join(task.staging, root, 'derivatives', 'labels', `sub-${subject}`, `ses-${session.id}`, 'anat');
    const truth = join(task.staging, 'truth', `sub-${subject}`, `ses-${session.id}`);

    const maps = sessionMaps(session);
    const nativeFine = renderFineLabels(
      task.shape,
      (voxel) => maps.toSubject(applyAffine(grid, voxel)),
      plan.anatomy,
      session.anatomy,
    );
    const subjectFine = renderFineLabels(task.shape, grid, plan.anatomy, session.anatomy);
    const raw = createVolume(
      renderT1w(nativeFine, task.shape, session.contrast, session.effects, random.fork(1000 + s)),
      [...task.shape],
      grid,
    );
    const field = createVolume(displacementField(task.shape, grid, maps.toNative), [...task.shape, 3], grid);
    const registered = resampleThroughField(raw, field, 'linear');

    await writeNifti(join(anat('raw'), `${name}_T1w.nii.gz`), raw, { datatype: 'float32' });
    await writeNifti(
      join(labelsAnat('raw'), `${name}_dseg.nii.gz`),
      createVolume(toLabels(nativeFine), [...task.shape], grid),
      { datatype: 'uint8' },
    );
    await writeNifti(join(anat('registered'), `${name}_T1w.nii.gz`), registered, { datatype: 'float32' });
    await writeNifti(
      join(labelsAnat('registered'), `${name}_dseg.nii.gz`),
      createVolume(toLabels(subjectFine), [...task.shape], grid),
      { datatype: 'uint8' },
    );
    await writeNifti(join(truth, `${name}_to-subject_displacement.nii.gz`), field, {
      datatype: 'int16',
      scaling: { slope: fieldStep(field.data), intercept: 0 },
    });
    await writeFileAtomic(
      join(truth, `${name}_to-subject_xfm.json`),
      `${JSON.stringify(
        {
          subject_to_native: session.subjectToNative,
          native_to_subject: invertAffine(session.subjectToNative),
          rigid_subject_to_native: session.motion,
          growth_scale: session.growth,
          nonlinear_warp: session.warp,
          convention:
            'World coordinates in mm (RAS, as the NIfTI affines). A subject-space point x lies at native point subject_to_native·(x + w(x)), ' +
            'w(x)[axis] = Σ amplitude·sin(frequency·x + phase) over the terms of nonlinear_warp[axis]; ' +
            'the displacement field holds u(x) = subject_to_native·(x + w(x)) − x on the subject grid (pull-back, as ITK fields, but RAS and 4D [x, y, z, 3]). ' +
            'subject_to_native = rigid_subject_to_native · growth_scale·I.',
        },
        null,
        2,
      )}\n`,
    );
  }
  const sessionsTsv = formatTsv(
    task.cohort === 'infant' ? ['session_id', 'age', 'age_months'] : ['session_id', 'age'],
    plan.sessions.map((s) => [`ses-${s.id}`, s.ageYears, ...(task.cohort === 'infant' ? [s.ageMonths ?? null] : [])]),
  );
  for (const root of ['raw', 'registered'])
    await writeFileAtomic(join(task.staging, root, `sub-${subject}`, `sub-${subject}_sessions.tsv`), sessionsTsv);
  return {
    subject,
    sex: plan.sex,
    sessions: plan.sessions.map(({ id, ageYears, ageMonths }) => ({ id, ageYears, ageMonths })),
  };
}
