import { multiply4, type Mat4, type Vec3 } from '../io/affine.js';
import type { Random } from '../runtime/random.js';
import {
  agingAnatomy,
  randomSubjectAnatomy,
  rotationX,
  rotationY,
  rotationZ,
  staticAnatomy,
  type SessionAnatomy,
  type SubjectAnatomy,
  type WarpTerm,
} from './anatomy.js';
import { agingContrast, infantContrast, type AcquisitionEffects, type Contrast } from './intensity.js';

export type Cohort = 'aging' | 'infant';

/** Two sinusoids per axis, wavelengths 80–160 mm: for 3 mm the Jacobian of w stays below 0.75 in norm, so x + w(x) is invertible. */
function sessionWarp(amplitudeMm: number, random: Random): WarpTerm[][] {
  const frequency = () => ((random.next() < 0.5 ? -1 : 1) * 2 * Math.PI) / random.uniform(80, 160);
  return [0, 1, 2].map(() =>
    [0, 1].map(() => ({
      amplitude: (amplitudeMm / 2) * random.uniform(0.5, 1),
      frequency: [frequency(), frequency(), frequency()] as Vec3,
      phase: random.uniform(0, 2 * Math.PI),
    })),
  );
}

export interface SessionPlan {
  id: string;
  ageYears: number;
  ageMonths?: number;
  /** Subject space (mm) → this session's native scanner space (mm): head motion ∘ growth. */
  subjectToNative: Mat4;
  /**
   * Smooth nonlinear part, applied before subjectToNative: the native point of subject point x is
   * subjectToNative·(x + w(x)), w = Σ amplitude·sin(frequency·x + phase) per axis (mm).
   */
  warp: WarpTerm[][];
  /** The rigid part (head motion) alone. */
  motion: Mat4;
  /** Linear size of the brain relative to the subject space (infant growth; 1 for aging). */
  growth: number;
  anatomy: SessionAnatomy;
  contrast: Contrast;
  effects: AcquisitionEffects;
}

export interface SubjectPlan {
  anatomy: SubjectAnatomy;
  sex: 'F' | 'M';
  sessions: SessionPlan[];
}

const BRAIN_SEMI_AXES_MM: Record<Cohort, Vec3> = { aging: [66, 82, 60], infant: [62, 76, 56] };

/** Infant brain size (linear) relative to 36 months, on a log-age scale from 80 % at 3 months (half the volume). */
function infantSize(ageMonths: number): number {
  return 0.8 + 0.2 * Math.min(1, Math.max(0, Math.log(ageMonths / 3) / Math.log(12)));
}

function sessionAgesYears(cohort: Cohort, count: number, random: Random): number[] {
  if (cohort === 'aging') {
    const ages = [random.uniform(62, 80)];
    while (ages.length < count) ages.push(ages[ages.length - 1] + random.uniform(1, 2));
    return ages.map((a) => Math.round(a * 100) / 100);
  }
  // infant: from 3–6 months to 24–36 months so that the WM/GM contrast reverses within each subject
  if (count === 1) return [Math.round(random.uniform(3, 36) * 2) / 24];
  const first = random.uniform(3, 6);
  const last = random.uniform(24, 36);
  const middle = Array.from({ length: count - 2 }, () => random.uniform(first + 1, last - 1)).sort((a, b) => a - b);
  return [first, ...middle, last].map((months) => Math.round(months * 2) / 24);
}

export function planSubject(cohort: Cohort, sessionCount: number, random: Random, warpMm = 0): SubjectPlan {
  const anatomy = randomSubjectAnatomy(random, BRAIN_SEMI_AXES_MM[cohort]);
  const sex = random.next() < 0.5 ? 'F' : 'M';
  const ages = sessionAgesYears(cohort, sessionCount, random);
  const sizes = ages.map((age) => (cohort === 'infant' ? infantSize(age * 12) : 1));
  const meanSize = Math.exp(sizes.reduce((sum, s) => sum + Math.log(s), 0) / sizes.length);
  const sessions = ages.map((ageYears, s): SessionPlan => {
    const degrees = () => random.uniform(-3, 3) * (Math.PI / 180);
    const motion = multiply4(multiply4(rotationZ(degrees()), rotationY(degrees())), rotationX(degrees()));
    for (let r = 0; r < 3; r++) motion[r][3] = random.uniform(-3, 3);
    const growth = sizes[s] / meanSize;
    const scaling: Mat4 = [
      [growth, 0, 0, 0],
      [0, growth, 0, 0],
      [0, 0, growth, 0],
      [0, 0, 0, 1],
    ];
    return {
      id: String(s + 1).padStart(2, '0'),
      ageYears,
      ageMonths: cohort === 'infant' ? Math.round(ageYears * 12 * 10) / 10 : undefined,
      subjectToNative: multiply4(motion, scaling),
      warp: sessionWarp(warpMm, random.fork(2000 + s)),
      motion,
      growth,
      anatomy: cohort === 'aging' ? agingAnatomy(ageYears - ages[0]) : staticAnatomy(),
      contrast: cohort === 'aging' ? agingContrast(ageYears) : infantContrast(ageYears * 12),
      effects: {
        blurVoxels: 0.6,
        biasAmplitude: random.uniform(0.1, 0.25),
        noise: random.uniform(0.02, 0.04),
        scale: random.uniform(700, 1300),
      },
    };
  });
  return { anatomy, sex, sessions };
}
