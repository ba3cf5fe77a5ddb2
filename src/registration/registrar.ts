import type { Mat4 } from '../io/affine.js';
import type { Volume } from '../io/volume.js';

/**
 * One registration back end. Registrars only estimate transforms; longiseg composes and applies
 * them itself, so that every session is resampled once. Transforms follow ITK's pull-back
 * convention in RAS world millimetres: they map a point of the fixed image to the point of the moving
 * image that lands there.
 */
export interface Registrar {
  readonly name: 'ants' | 'elastix' | 'elastix-wasm';
  /** The tool and its version, for done.json. */
  readonly version: string;
  /** Threads one registration uses: preprocess runs as many subjects at once as --threads holds. */
  readonly threads: number;
  affine(task: RegistrationTask): Promise<Mat4>;
  /** A displacement field [x, y, z, 3] on the fixed grid: fixed point p ↦ moving point p + u(p), the initial affine included. */
  deformable(task: RegistrationTask & { initial: Mat4 }): Promise<Volume>;
  /** Bias-field correction (N4), where the back end has it. */
  biasCorrect?(task: BiasCorrectionTask): Promise<void>;
}

/** Where a registration step works and how failures name it. */
export interface StageContext {
  /** A folder the back end may fill (parameter files, logs, outputs). */
  work: string;
  /** What the stage is, for error messages ("sub-01 ses-02 affine to the template"). */
  stage: string;
  signal?: AbortSignal;
}

export interface RegistrationTask extends StageContext {
  fixed: string;
  moving: string;
}

export interface BiasCorrectionTask extends StageContext {
  input: string;
  output: string;
}
