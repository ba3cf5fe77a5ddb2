import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { applyAffine, invertAffine, linearPart, type Mat4, type Vec3 } from '../io/affine.js';
import { listNiftiFiles } from '../io/bids.js';
import { readNifti, smallestLabelType, writeNifti } from '../io/nifti.js';
import { resampleThroughField, VoxelSampler } from '../io/resample.js';
import { createVolume, type Grid, type Volume } from '../io/volume.js';
import { InputError, throwIfAborted, UsageError } from '../runtime/errors.js';

/**
 * The inverse of a subject → native map T(x) = x + u(x), u a displacement field on the subject grid,
 * as a displacement field on a native grid: y ↦ x with T(x) = y. Newton iterations with the Jacobian
 * of the affine part `affine`; outside the field T is the affine alone.
 */
export function invertField(field: Volume, affine: Mat4, target: Grid): Volume {
  const sampler = new VoxelSampler(field, 'linear', Number.NaN);
  const toVoxel = invertAffine(field.affine);
  const inverse = invertAffine(affine);
  const linearInverse = linearPart(inverse);
  const u = new Float32Array(3);
  const forward = (x: Vec3): Vec3 => {
    const p = applyAffine(toVoxel, x);
    sampler.sample(p[0], p[1], p[2], u, 0, 1);
    return Number.isNaN(u[0]) ? applyAffine(affine, x) : [x[0] + u[0], x[1] + u[1], x[2] + u[2]];
  };
  const [nx, ny, nz] = target.shape;
  const voxels = nx * ny * nz;
  const out = new Float32Array(3 * voxels);
  for (let k = 0, n = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        const y = applyAffine(target.affine, [i, j, k]);
        let x = applyAffine(inverse, y);
        for (let iteration = 0; iteration < 30; iteration++) {
          const t = forward(x);
          const step = applyAffine(linearInverse, [y[0] - t[0], y[1] - t[1], y[2] - t[2]]);
          x = [x[0] + step[0], x[1] + step[1], x[2] + step[2]];
          if (Math.abs(step[0]) + Math.abs(step[1]) + Math.abs(step[2]) < 1e-4) break;
        }
        for (let c = 0; c < 3; c++) out[n + c * voxels] = x[c] - y[c];
      }
    }
  }
  return createVolume(out, [nx, ny, nz, 3], target.affine, target.xforms);
}

async function readAffine(file: string): Promise<Mat4> {
  try {
    const matrix = (JSON.parse(await readFile(file, 'utf8')) as { subject_to_session?: unknown }).subject_to_session;
    if (Array.isArray(matrix) && matrix.length === 4 && matrix.every((row) => Array.isArray(row) && row.length === 4 && row.every(Number.isFinite))) return matrix as Mat4;
  } catch {
    // reported below
  }
  throw new InputError(file, 'not a preprocess affine file (subject_to_session, a 4×4 matrix)');
}

export interface ApplyInverseOptions {
  /** Files in subject space (predictions, label maps), named sub-X_ses-Y…. */
  input: string;
  /** The folder preprocess wrote (its xfm/ transforms). */
  preprocessed: string;
  /** The raw BIDS dataset: each session's native grid. */
  bids: string;
  modality: string;
  out: string;
  overwrite: boolean;
  signal?: AbortSignal;
  onFile?: (file: string) => void;
}

/**
 * Maps files from subject space back to each session's native grid with the inverse of the stored
 * transform: label maps (integer files) with GenericLabel-style interpolation, images trilinearly.
 */
export async function applyInverse(options: ApplyInverseOptions): Promise<string[]> {
  const jobs = (await listNiftiFiles(options.input)).flatMap((file) => {
    const match = /^sub-([a-zA-Z0-9]+)_ses-([a-zA-Z0-9]+)_/.exec(basename(file));
    if (!match) return [];
    const [, subject, session] = match;
    const name = `sub-${subject}_ses-${session}`;
    const xfm = join(options.preprocessed, `sub-${subject}`, `ses-${session}`, 'xfm');
    return [{
      file,
      field: join(xfm, `${name}_from-native_to-subject_mode-image_xfm.nii.gz`),
      affine: join(xfm, `${name}_affine.json`),
      native: join(options.bids, `sub-${subject}`, `ses-${session}`, 'anat', `${name}_${options.modality}.nii.gz`),
      output: join(options.out, `sub-${subject}`, `ses-${session}`, 'anat', basename(file).replace('_space-subject', '')),
    }];
  });
  if (jobs.length === 0) throw new InputError(options.input, 'no NIfTI files named sub-<label>_ses-<label>_… to map back');
  for (const job of jobs) {
    for (const needed of [job.field, job.affine, job.native]) if (!existsSync(needed)) throw new InputError(needed, `missing, needed to map ${relative(options.input, job.file)} back to native space`);
    if (existsSync(job.output) && !options.overwrite) throw new UsageError(`${job.output} exists; pass --overwrite to replace it`);
  }
  for (const job of jobs) {
    throwIfAborted(options.signal);
    options.onFile?.(relative(options.input, job.file));
    const [source, field, native] = await Promise.all([readNifti(job.file), readNifti(job.field), readNifti(job.native)]);
    const affine = await readAffine(job.affine);
    const inverse = invertField(field, affine, native);
    const isLabel = !(source.data instanceof Float32Array || source.data instanceof Float64Array);
    const moved = resampleThroughField(source, inverse, isLabel ? 'label' : 'linear');
    await mkdir(dirname(job.output), { recursive: true });
    await writeNifti(job.output, { ...moved, xforms: native.xforms }, { datatype: isLabel ? smallestLabelType(moved.data) : 'float32' });
  }
  return jobs.map((job) => job.output);
}
