import type { Volume } from '../io/volume.js';
import { DivergedError } from '../runtime/errors.js';
import { percentile } from '../data/intensity.js';

/** Normalised cross-correlation of two images on one grid (1: identical up to brightness and contrast). */
export function normalisedCrossCorrelation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let [sa, sb] = [0, 0];
  for (let i = 0; i < a.length; i++) [sa, sb] = [sa + a[i], sb + b[i]];
  const [ma, mb] = [sa / a.length, sb / b.length];
  let [ab, aa, bb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    const [da, db] = [a[i] - ma, b[i] - mb];
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** What qc.json records of a session in subject space. */
export interface SessionQuality {
  /** NCC with the subject template where the session was scanned (identity), and after registration. */
  ncc_before: number;
  ncc_after: number;
  /** Range of the Jacobian determinant of the subject-to-session map inside the head. */
  jacobian_min: number;
  jacobian_max: number;
  /** Share of the head where that determinant is ≤ 0: the map folds there. */
  folded_share: number;
}

/** A registration folding more of the head than this has diverged. */
export const MAX_FOLDED_SHARE = 0.01;
/** Interpolation, not registration: a session already in place can lose this much correlation to resampling. */
export const NCC_TOLERANCE = 0.01;
/** A voxel is in the head where the template is above this share of its 99th percentile. */
const HEAD_SHARE = 0.1;

export function headMask(template: Pick<Volume, 'data'>): Uint8Array {
  const threshold = HEAD_SHARE * percentile(template.data, 99);
  return Uint8Array.from(template.data, (v) => (v > threshold ? 1 : 0));
}

/** Why a session's registration is taken to have diverged; nothing when it has not. */
export function divergence(session: string, quality: SessionQuality): string[] {
  const problems: string[] = [];
  if (quality.folded_share > MAX_FOLDED_SHARE)
    problems.push(
      `${session}: the deformation folds (Jacobian determinant ≤ 0) over ${(100 * quality.folded_share).toFixed(1)} % of the head (at most ${100 * MAX_FOLDED_SHARE} % is accepted)`,
    );
  if (quality.ncc_after < quality.ncc_before - NCC_TOLERANCE)
    problems.push(
      `${session}: registration lowered the correlation with the subject template by more than ${NCC_TOLERANCE} (NCC ${quality.ncc_before.toFixed(3)} before, ${quality.ncc_after.toFixed(3)} after)`,
    );
  return problems;
}

/** A subject whose registration diverged: nothing of it is written but qc.json, which says why. */
export class RegistrationDivergedError extends DivergedError {
  constructor(
    message: string,
    readonly qc: Record<string, SessionQuality>,
  ) {
    super(`${message}; nothing of the subject was written but qc.json`);
  }
}
