import { invertAffine, multiply4, type Mat4, type Vec3 } from '../io/affine.js';
import { Random } from '../runtime/random.js';

/**
 * A procedural brain in "atlas" coordinates where the brain is roughly the unit ball (x to the
 * right, y anterior, z superior, as RAS), with deep structures of real size and place.
 */
export const enum Tissue {
  Background = 0,
  Cortex = 1,
  WhiteMatter = 2,
  Csf = 3,
}

/** One ellipsoid of a structure, on the left side (x < 0), in mm of the reference brain. */
interface Part {
  centre: Vec3;
  semiAxes: Vec3;
  /** Tilt of the long (y) axis upwards towards posterior, degrees (about the x axis). */
  pitch?: number;
}

interface Structure {
  name: string;
  parts: Part[];
  /** How the structure's volume changes per year of age in the aging cohort (fraction). */
  agingRate: number;
  /** Where structures overlap, the lower number wins. */
  priority: number;
  /** T1w intensity as a fraction of the way from grey to white matter (myelin content). */
  whiteness: number;
}

/**
 * The brain the structures are laid out in: an adult brain of these semi-axes (mm), the atlas unit
 * ball. Every subject's brain is a random affine image of it, so structure volumes scale with it.
 */
const REFERENCE_BRAIN_MM: Vec3 = [66, 82, 60];

/**
 * Paired structures at the sizes and places of adult anatomy (left side; the right one mirrors it):
 * per side about 3.5 mL caudate, 5 mL putamen, 1.5 mL pallidum, 7 mL thalamus, 4 mL hippocampus and
 * 1.5 mL amygdala, as in adult atlases; docs/synth.md lists the volumes measured on the label maps.
 * Fine label = 4 + 2·pair + (0 left, 1 right).
 */
const PAIRS: Structure[] = [
  {
    name: 'Lateral-Ventricle',
    parts: [{ centre: [-9, -6, 17], semiAxes: [6, 32, 9] }],
    agingRate: 0.025,
    priority: 6,
    whiteness: 0,
  },
  {
    name: 'Thalamus',
    parts: [{ centre: [-10.5, -21, 5], semiAxes: [8.5, 17, 11.5] }],
    agingRate: -0.005,
    priority: 5,
    whiteness: 0.5,
  },
  {
    name: 'Caudate',
    parts: [
      { centre: [-16, 13, 9], semiAxes: [6, 10, 9] },
      { centre: [-17, -9, 20], semiAxes: [4, 14, 5], pitch: -10 },
    ],
    agingRate: -0.006,
    priority: 2,
    whiteness: 0.15,
  },
  {
    name: 'Putamen',
    parts: [{ centre: [-26, 3, 1], semiAxes: [6, 17, 12.5] }],
    agingRate: -0.006,
    priority: 4,
    whiteness: 0.25,
  },
  {
    name: 'Pallidum',
    parts: [{ centre: [-19, -3, -1], semiAxes: [4.7, 8.8, 9.2] }],
    agingRate: -0.004,
    priority: 1,
    whiteness: 0.65,
  },
  {
    name: 'Hippocampus',
    parts: [{ centre: [-28, -27, -11], semiAxes: [6.5, 19, 7.5], pitch: 25 }],
    agingRate: -0.015,
    priority: 3,
    whiteness: 0.05,
  },
  {
    name: 'Amygdala',
    parts: [{ centre: [-23, -1, -18], semiAxes: [7.2, 6.8, 7.7] }],
    agingRate: -0.015,
    priority: 0,
    whiteness: 0.1,
  },
];

export const FINE_LABEL_NAMES: string[] = [
  'background',
  'Cortex',
  'Cerebral-White-Matter',
  'CSF',
  ...PAIRS.flatMap((pair) => [`Left-${pair.name}`, `Right-${pair.name}`]),
];

const FIRST_VENTRICLE = 4;
/** Fine labels that are CSF (external CSF and both lateral ventricles). */
export function isCsf(fine: number): boolean {
  return fine === Tissue.Csf || fine === FIRST_VENTRICLE || fine === FIRST_VENTRICLE + 1;
}

export type LabelSet = 'tissue' | 'structures';

/** Label tables (dseg.tsv rows). Tissue follows the BIDS generic labels: 1 GM, 2 WM, 3 CSF. */
export function labelTable(set: LabelSet): [number, string][] {
  if (set === 'tissue') {
    return [
      [0, 'background'],
      [1, 'GM'],
      [2, 'WM'],
      [3, 'CSF'],
    ];
  }
  return FINE_LABEL_NAMES.map((name, index) => [index, name]);
}

/** Maps fine labels to the chosen label set. */
export function labelLookup(set: LabelSet): Uint8Array {
  const lookup = new Uint8Array(FINE_LABEL_NAMES.length);
  for (let fine = 0; fine < lookup.length; fine++) {
    if (set === 'structures') lookup[fine] = fine;
    else lookup[fine] = fine === 0 ? 0 : isCsf(fine) ? 3 : fine === Tissue.WhiteMatter ? 2 : 1;
  }
  return lookup;
}

/** What makes one subject's brain its own: shape of the atlas mapping, deformation and folding. */
export interface SubjectAnatomy {
  /** Atlas → subject space (mm): size, orientation, shear and position of the brain. */
  atlasToSubject: Mat4;
  /** Smooth pull-back deformation: u = v + Σ amplitude·sin(frequency·v + phase), per atlas axis. */
  warp: WarpTerm[][];
  /** Folding pattern of the cortex (gyri and sulci). */
  folds: { frequency: Vec3; phase: Vec3 };
}

/** Per session: structure sizes (longitudinal change) as factors on each pair's semi-axes. */
export interface SessionAnatomy {
  pairScale: number[];
}

export function randomSubjectAnatomy(random: Random, brainSemiAxesMm: Vec3): SubjectAnatomy {
  const angle = () => random.uniform(-6, 6) * (Math.PI / 180);
  const [ax, ay, az] = [angle(), angle(), angle()];
  const rotation = multiply4(multiply4(rotationZ(az), rotationY(ay)), rotationX(ax));
  const scale = brainSemiAxesMm.map((s) => s * random.uniform(0.93, 1.07));
  const shear = random.uniform(-0.04, 0.04);
  const shape: Mat4 = [
    [scale[0], shear * scale[1], 0, 0],
    [0, scale[1], 0, 0],
    [0, 0, scale[2], 0],
    [0, 0, 0, 1],
  ];
  const atlasToSubject = multiply4(rotation, shape);
  for (let r = 0; r < 3; r++) atlasToSubject[r][3] = random.uniform(-4, 4);
  const warp = [0, 1, 2].map(() =>
    [0, 1].map(() => ({
      amplitude: random.uniform(0.015, 0.035),
      frequency: [random.uniform(1, 3), random.uniform(1, 3), random.uniform(1, 3)] as Vec3,
      phase: random.uniform(0, 2 * Math.PI),
    })),
  );
  const folds = {
    frequency: [random.uniform(17, 23), random.uniform(17, 23), random.uniform(15, 21)] as Vec3,
    phase: [random.uniform(0, 6.3), random.uniform(0, 6.3), random.uniform(0, 6.3)] as Vec3,
  };
  return { atlasToSubject, warp, folds };
}

/** Structure sizes at `yearsSinceBaseline` for the aging cohort (volume change per year → semi-axis factor). */
export function agingAnatomy(yearsSinceBaseline: number): SessionAnatomy {
  return { pairScale: PAIRS.map((pair) => Math.cbrt(Math.max(0.2, 1 + pair.agingRate * yearsSinceBaseline))) };
}

export function staticAnatomy(): SessionAnatomy {
  return { pairScale: PAIRS.map(() => 1) };
}

/**
 * Renders fine labels on a grid: voxel (i, j, k) is labelled by the anatomy at subject-space point
 * `voxelToSubject(i, j, k)` (mm; an affine, or any map through the session transforms). Voxels on a
 * boundary take the majority label of 8 sub-samples (±¼ voxel), as a rater labels the tissue that
 * fills most of the voxel.
 */
export function renderFineLabels(
  shape: Vec3,
  voxelToSubject: Mat4 | ((voxel: Vec3) => Vec3),
  subject: SubjectAnatomy,
  session: SessionAnatomy,
): Uint8Array {
  const subjectToAtlas = invertAffine(subject.atlasToSubject);
  const labelAt =
    typeof voxelToSubject === 'function'
      ? anatomyFunction(subjectToAtlas, subject, session, voxelToSubject)
      : anatomyFunction(multiply4(subjectToAtlas, voxelToSubject), subject, session);
  const [nx, ny, nz] = shape;
  const centre = new Uint8Array(nx * ny * nz);
  for (let k = 0, n = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, n++) centre[n] = labelAt(i, j, k);
  const labels = Uint8Array.from(centre);
  const votes = new Uint8Array(FINE_LABEL_NAMES.length);
  const plane = nx * ny;
  for (let k = 1; k < nz - 1; k++) {
    for (let j = 1; j < ny - 1; j++) {
      for (let i = 1; i < nx - 1; i++) {
        const n = i + nx * (j + ny * k);
        const c = centre[n];
        if (
          centre[n - 1] === c &&
          centre[n + 1] === c &&
          centre[n - nx] === c &&
          centre[n + nx] === c &&
          centre[n - plane] === c &&
          centre[n + plane] === c
        )
          continue;
        votes.fill(0);
        for (const dk of SUBSAMPLE)
          for (const dj of SUBSAMPLE) for (const di of SUBSAMPLE) votes[labelAt(i + di, j + dj, k + dk)]++;
        let best = c;
        for (let label = 0; label < votes.length; label++) if (votes[label] > votes[best]) best = label;
        labels[n] = best;
      }
    }
  }
  return labels;
}

const SUBSAMPLE = [-0.25, 0.25];

/** A structure part's inside test on a point of the left side (mm, reference brain), for one session's sizes. */
function partTest(part: Part, scale: number): (x: number, y: number, z: number) => boolean {
  const [cx, cy, cz] = part.centre;
  const [ix, iy, iz] = part.semiAxes.map((s) => 1 / (s * scale));
  const angle = ((part.pitch ?? 0) * Math.PI) / 180;
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return (x, y, z) => {
    const dx = (x - cx) * ix;
    const dy = (c * (y - cy) - s * (z - cz)) * iy;
    const dz = (s * (y - cy) + c * (z - cz)) * iz;
    return dx * dx + dy * dy + dz * dz < 1;
  };
}

/** The fine label at a continuous voxel position (`toAtlas` after `toSubject`, when given), for one subject and session. */
function anatomyFunction(
  toAtlas: Mat4,
  subject: SubjectAnatomy,
  session: SessionAnatomy,
  toSubject?: (voxel: Vec3) => Vec3,
): (i: number, j: number, k: number) => number {
  const structures = PAIRS.map((pair, p) => ({
    label: FIRST_VENTRICLE + 2 * p,
    priority: pair.priority,
    inside: pair.parts.map((part) => partTest(part, session.pairScale[p])),
  })).sort((a, b) => a.priority - b.priority);
  const [sx, sy, sz] = REFERENCE_BRAIN_MM;
  const { warp, folds } = subject;
  return (i, j, k) => {
    if (toSubject) [i, j, k] = toSubject([i, j, k]);
    const vx = toAtlas[0][0] * i + toAtlas[0][1] * j + toAtlas[0][2] * k + toAtlas[0][3];
    const vy = toAtlas[1][0] * i + toAtlas[1][1] * j + toAtlas[1][2] * k + toAtlas[1][3];
    const vz = toAtlas[2][0] * i + toAtlas[2][1] * j + toAtlas[2][2] * k + toAtlas[2][3];
    if (vx * vx + vy * vy + vz * vz > 1.6) return Tissue.Background;
    const ux = vx + warpAt(warp[0], vx, vy, vz);
    const uy = vy + warpAt(warp[1], vx, vy, vz);
    const uz = vz + warpAt(warp[2], vx, vy, vz);
    const r = Math.sqrt(ux * ux + uy * uy + uz * uz);
    if (r > 1.1) return Tissue.Background;
    const fold =
      Math.sin(folds.frequency[0] * (ux / (r + 1e-9)) + folds.phase[0]) *
      Math.sin(folds.frequency[1] * (uy / (r + 1e-9)) + folds.phase[1]) *
      Math.sin(folds.frequency[2] * (uz / (r + 1e-9)) + folds.phase[2]);
    if (r > 1 - 0.14 * Math.max(0, -fold)) return Tissue.Csf;
    if (r > 0.8 + 0.07 * fold) return Tissue.Cortex;
    // structures are in priority order: the first one containing the point wins; the right side mirrors the left
    const [x, y, z] = [ux * sx, uy * sy, uz * sz];
    for (const structure of structures) {
      for (const inside of structure.inside) {
        if (inside(x, y, z)) return structure.label;
        if (inside(-x, y, z)) return structure.label + 1;
      }
    }
    return Tissue.WhiteMatter;
  };
}

/** T1w intensity of each fine label that is a paired structure, as a fraction from grey (0) to white (1) matter. */
export function structureWhiteness(fine: number): number | undefined {
  const pair = PAIRS[(fine - FIRST_VENTRICLE) >> 1];
  return fine >= FIRST_VENTRICLE && pair ? pair.whiteness : undefined;
}

/** One term of a smooth displacement: amplitude·sin(frequency·p + phase). */
export interface WarpTerm {
  amplitude: number;
  frequency: Vec3;
  phase: number;
}

/** Σ amplitude·sin(frequency·p + phase) over the terms of one axis. */
export function warpAt(terms: WarpTerm[], x: number, y: number, z: number): number {
  let sum = 0;
  for (const t of terms)
    sum += t.amplitude * Math.sin(t.frequency[0] * x + t.frequency[1] * y + t.frequency[2] * z + t.phase);
  return sum;
}

export function rotationX(angle: number): Mat4 {
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return [
    [1, 0, 0, 0],
    [0, c, -s, 0],
    [0, s, c, 0],
    [0, 0, 0, 1],
  ];
}

export function rotationY(angle: number): Mat4 {
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return [
    [c, 0, s, 0],
    [0, 1, 0, 0],
    [-s, 0, c, 0],
    [0, 0, 0, 1],
  ];
}

export function rotationZ(angle: number): Mat4 {
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return [
    [c, -s, 0, 0],
    [s, c, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}
