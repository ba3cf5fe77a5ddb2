import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Mat4 } from '../io/affine.js';
import { listNiftiFiles } from '../io/bids.js';
import { readNifti, smallestLabelType, writeNifti } from '../io/nifti.js';
import { resampleThroughField } from '../io/resample.js';
import { invertField } from '../registration/invert-field.js';
import { InputError, throwIfAborted, UsageError } from '../runtime/errors.js';

async function readAffine(file: string): Promise<Mat4> {
  try {
    const matrix = (JSON.parse(await readFile(file, 'utf8')) as { subject_to_session?: unknown }).subject_to_session;
    if (
      Array.isArray(matrix) &&
      matrix.length === 4 &&
      matrix.every((row) => Array.isArray(row) && row.length === 4 && row.every(Number.isFinite))
    )
      return matrix as Mat4;
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
    return [
      {
        file,
        field: join(xfm, `${name}_from-native_to-subject_mode-image_xfm.nii.gz`),
        affine: join(xfm, `${name}_affine.json`),
        native: join(options.bids, `sub-${subject}`, `ses-${session}`, 'anat', `${name}_${options.modality}.nii.gz`),
        output: join(
          options.out,
          `sub-${subject}`,
          `ses-${session}`,
          'anat',
          basename(file).replace('_space-subject', ''),
        ),
      },
    ];
  });
  if (jobs.length === 0)
    throw new InputError(options.input, 'no NIfTI files named sub-<label>_ses-<label>_… to map back');
  for (const job of jobs) {
    for (const needed of [job.field, job.affine, job.native])
      if (!existsSync(needed))
        throw new InputError(
          needed,
          `missing, needed to map ${relative(options.input, job.file)} back to native space`,
        );
    if (existsSync(job.output) && !options.overwrite)
      throw new UsageError(`${job.output} exists; pass --overwrite to replace it`);
  }
  for (const job of jobs) {
    throwIfAborted(options.signal);
    options.onFile?.(relative(options.input, job.file));
    const [source, field, native] = await Promise.all([
      readNifti(job.file),
      readNifti(job.field),
      readNifti(job.native),
    ]);
    const affine = await readAffine(job.affine);
    const inverse = invertField(field, affine, native);
    const isLabel = !(source.data instanceof Float32Array || source.data instanceof Float64Array);
    const moved = resampleThroughField(source, inverse, isLabel ? 'label' : 'linear');
    await mkdir(dirname(job.output), { recursive: true });
    await writeNifti(
      job.output,
      { ...moved, xforms: native.xforms },
      { datatype: isLabel ? smallestLabelType(moved.data) : 'float32' },
    );
  }
  return jobs.map((job) => job.output);
}
