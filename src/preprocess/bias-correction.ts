import type { Vec3 } from '../io/affine.js';
import { readNifti, writeNifti } from '../io/nifti.js';
import { createVolume, spatialShape, type Volume } from '../io/volume.js';
import type { BiasCorrectionTask, Registrar } from '../registration/registrar.js';
import { throwIfAborted } from '../runtime/errors.js';
import { addSplineField, SplineSupport, type GridPositions } from './bspline-fit.js';
import { sharpen } from './histogram-sharpening.js';
import { headMask } from './quality.js';

export interface BiasCorrectionOptions {
  /** The estimation runs on a subsampled grid of about this spacing (mm). */
  workingVoxelMm: number;
  /** Control point spacing (mm) of the first level. */
  splineDistanceMm: number;
  /** Iterations at most, per level. */
  iterations: number[];
  /** A level stops when the coefficient of variation of exp(field change) falls below this. */
  convergence: number;
}

/**
 * The parameters of the ANTs call (n4Args: `-s 4 -c [50x50x50x50,1e-7] -b [200]`), its shrink factor
 * of 4 taken as 4 mm (4 voxels of 1 mm), but two levels where ANTs fits four: on the small fields of
 * view of infant heads the third and fourth levels (control points 18–48 mm apart) flatten part of
 * the weak GM/WM contrast and misalign the sessions (docs/preprocess.md).
 */
export const N4_DEFAULTS: BiasCorrectionOptions = {
  workingVoxelMm: 4,
  splineDistanceMm: 200,
  iterations: [50, 50],
  convergence: 1e-7,
};

export interface BiasCorrection {
  corrected: Volume;
  /** The log bias field on the image's grid, mean 0 inside the head. */
  logField: Float32Array;
  /** Iterations run at each level. */
  iterations: number[];
}

/** The voxels kept along an axis of n: every factor-th, centred, as ITK's ShrinkImageFilter keeps them. */
function subsampled(n: number, factor: number): Int32Array {
  const kept = Math.max(1, Math.floor(n / factor));
  const first = Math.min(Math.ceil((factor - 1) / 2), n - 1);
  return Int32Array.from({ length: kept }, (_, b) => first + b * factor);
}

/** Positions in [0, 1] of voxel indices along an axis of n voxels. */
const positionsOf = (indices: ArrayLike<number>, n: number) =>
  Float64Array.from(indices, (i) => (n > 1 ? i / (n - 1) : 0.5));

/** The subsampled grid: its voxels' log intensities where the mask is, the mask, and their positions. */
function shrink(image: Volume, mask: Uint8Array, factor: number) {
  const [nx, ny, nz] = spatialShape(image);
  const [ix, iy, iz] = [nx, ny, nz].map((n) => subsampled(n, factor));
  const log = new Float64Array(ix.length * iy.length * iz.length);
  const kept = new Uint8Array(log.length);
  for (let k = 0, b = 0; k < iz.length; k++) {
    for (let j = 0; j < iy.length; j++) {
      for (let i = 0; i < ix.length; i++, b++) {
        const n = ix[i] + nx * (iy[j] + ny * iz[k]);
        if (!mask[n]) continue;
        kept[b] = 1;
        log[b] = Math.log(image.data[n]);
      }
    }
  }
  const positions: GridPositions = [positionsOf(ix, nx), positionsOf(iy, ny), positionsOf(iz, nz)];
  return { log, mask: kept, positions };
}

/** Coefficient of variation of exp(change) inside the mask: N4's measure of convergence. */
function convergenceOf(change: Float32Array, mask: Uint8Array): number {
  let [sum, squares, n] = [0, 0, 0];
  for (let v = 0; v < change.length; v++) {
    if (!mask[v]) continue;
    const e = Math.exp(change[v]);
    [sum, squares, n] = [sum + e, squares + e * e, n + 1];
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(squares / n - mean * mean, 0)) / mean;
}

/**
 * N4 bias field correction (Tustison 2010) in TypeScript, for the back ends that have none: on a
 * subsampled grid, the histogram of the log image inside the head is sharpened, the residual
 * between the log image and its sharpened values is approximated by a smooth cubic B-spline field,
 * and the approximations add up to the log bias field; four levels, each with twice the control
 * points of the one before. The corrected image is the input divided by the bias field.
 */
export function correctBiasField(image: Volume, options: BiasCorrectionOptions = N4_DEFAULTS): BiasCorrection {
  const shape = spatialShape(image);
  const head = headMask(image);
  for (let v = 0; v < head.length; v++) if (!(image.data[v] > 0)) head[v] = 0;
  const factor = Math.max(1, Math.round(options.workingVoxelMm / Math.min(...image.spacing.slice(0, 3))));
  const working = shrink(image, head, factor);
  const { positions } = working;
  const firstElements = shape.map((n, axis) =>
    Math.max(1, Math.ceil((n * image.spacing[axis]) / options.splineDistanceMm)),
  ) as Vec3;

  const inside = working.mask.reduce((count, m) => count + m, 0);
  const field = new Float32Array(working.log.length);
  const residual = new Float64Array(working.log.length);
  const values = new Float64Array(inside);
  const levels: { elements: Vec3; coefficients: Float64Array }[] = [];
  const iterations: number[] = [];
  for (const [level, maximum] of options.iterations.entries()) {
    const elements = firstElements.map((e) => e * 2 ** level) as Vec3;
    const support = new SplineSupport(positions, elements, working.mask);
    const coefficients = new Float64Array(support.controlPoints);
    let iteration = 0;
    while (iteration < maximum) {
      iteration++;
      for (let v = 0, m = 0; v < field.length; v++) if (working.mask[v]) values[m++] = working.log[v] - field[v];
      const sharpened = sharpen(values);
      for (let v = 0, m = 0; v < field.length; v++) {
        if (!working.mask[v]) continue;
        residual[v] = values[m] - sharpened[m];
        m++;
      }
      const step = support.approximate(residual);
      for (let c = 0; c < step.length; c++) coefficients[c] += step[c];
      const change = new Float32Array(field.length);
      support.addField(change, step);
      for (let v = 0; v < field.length; v++) field[v] += change[v];
      if (convergenceOf(change, working.mask) < options.convergence) break;
    }
    levels.push({ elements, coefficients });
    iterations.push(iteration);
  }

  const logField = new Float32Array(image.data.length);
  const full = shape.map((n) =>
    positionsOf(
      Int32Array.from({ length: n }, (_, i) => i),
      n,
    ),
  ) as GridPositions;
  for (const { elements, coefficients } of levels) addSplineField(logField, full, elements, coefficients);
  let [sum, count] = [0, 0];
  for (let v = 0; v < logField.length; v++) if (head[v]) [sum, count] = [sum + logField[v], count + 1];
  const mean = count > 0 ? sum / count : 0;
  const corrected = new Float32Array(image.data.length);
  for (let v = 0; v < logField.length; v++) {
    logField[v] -= mean;
    corrected[v] = image.data[v] / Math.exp(logField[v]);
  }
  return {
    corrected: createVolume(corrected, [...shape], image.affine, image.xforms),
    logField,
    iterations,
  };
}

/**
 * Which bias correction runs before registration. 'auto': ANTs' N4BiasFieldCorrection with the ANTs
 * back end, longiseg's N4 with the others; 'longiseg': longiseg's N4 with every back end.
 */
export const BIAS_CORRECTIONS = ['auto', 'longiseg', 'none'] as const;
export type BiasCorrectionChoice = (typeof BIAS_CORRECTIONS)[number];

/** longiseg's N4 as a registrar's bias correction: file in, file out. */
async function correctBiasFieldFile(task: BiasCorrectionTask): Promise<void> {
  const image = await readNifti(task.input, { kind: 'image', require3D: true });
  throwIfAborted(task.signal);
  await writeNifti(task.output, correctBiasField(image).corrected);
}

/**
 * The registrar with the bias correction `choice` names, or none; which one that is (for done.json),
 * or why there is none (for qc.json).
 */
export function withBiasCorrection(
  registrar: Registrar,
  choice: BiasCorrectionChoice,
): { registrar: Registrar; biasCorrection: string | null; uncorrectedNote?: string } {
  const tool = choice === 'auto' ? registrar.biasCorrect?.bind(registrar) : undefined;
  const correct = tool ?? (choice === 'none' ? undefined : correctBiasFieldFile);
  return {
    registrar: {
      name: registrar.name,
      version: registrar.version,
      threads: registrar.threads,
      affine: (task) => registrar.affine(task),
      deformable: (task) => registrar.deformable(task),
      ...(correct && { biasCorrect: correct }),
    },
    biasCorrection: tool ? `${registrar.name} N4` : correct ? 'longiseg N4' : null,
    ...(!correct && { uncorrectedNote: 'no bias correction (--bias-correction none)' }),
  };
}
