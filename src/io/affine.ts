/** 4×4 homogeneous matrices (row-major, rows of 4) and the NIfTI quaternion representation of qform. */
export type Vec3 = [number, number, number];
export type Mat4 = number[][];

export function identity4(): Mat4 {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

export function multiply4(a: Mat4, b: Mat4): Mat4 {
  const out = identity4();
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += a[r][k] * b[k][c];
      out[r][c] = sum;
    }
  }
  return out;
}

/** Determinant of the upper-left 3×3 block (of an affine: its linear part). */
export function determinant3(m: ArrayLike<ArrayLike<number>>): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** Inverse of an affine matrix (last row 0 0 0 1). */
export function invertAffine(m: Mat4): Mat4 {
  const [a, b, c] = m[0];
  const [d, e, f] = m[1];
  const [g, h, i] = m[2];
  const det = determinant3(m);
  if (Math.abs(det) < 1e-12) throw new RangeError('the affine is singular');
  const inv = [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
  const t = [m[0][3], m[1][3], m[2][3]];
  const out = identity4();
  for (let r = 0; r < 3; r++) {
    out[r][0] = inv[r][0];
    out[r][1] = inv[r][1];
    out[r][2] = inv[r][2];
    out[r][3] = -(inv[r][0] * t[0] + inv[r][1] * t[1] + inv[r][2] * t[2]);
  }
  return out;
}

/** The matrix without its translation: applied to a point, it maps a displacement. */
export function linearPart(m: Mat4): Mat4 {
  return m.map((row, i) => (i < 3 ? [...row.slice(0, 3), 0] : [...row]));
}

export function translation4(offset: Vec3): Mat4 {
  const out = identity4();
  out[0][3] = offset[0];
  out[1][3] = offset[1];
  out[2][3] = offset[2];
  return out;
}

export function applyAffine(m: Mat4, p: Vec3): Vec3 {
  return [
    m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2] + m[0][3],
    m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2] + m[1][3],
    m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2] + m[2][3],
  ];
}

/** Lengths of the first three columns: the voxel size an affine implies. */
export function columnNorms(m: Mat4): Vec3 {
  return [0, 1, 2].map((c) => Math.hypot(m[0][c], m[1][c], m[2][c])) as Vec3;
}

export function maxAbsDifference(a: Mat4, b: Mat4): number {
  let max = 0;
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) max = Math.max(max, Math.abs(a[r][c] - b[r][c]));
  return max;
}

/** qform parameters exactly as stored in a NIfTI header. */
export interface Quaternion {
  b: number;
  c: number;
  d: number;
  offset: Vec3;
  /** pixdim[0]: -1 flips the third voxel axis (left-handed grids). */
  qfac: 1 | -1;
}

/** The qform affine of NIfTI-1 "method 2" (nifti1_io.c nifti_quatern_to_mat44). */
export function quaternionToAffine(q: Quaternion, spacing: Vec3): Mat4 {
  let { b, c, d } = q;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    a = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= a;
    c *= a;
    d *= a;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const xd = spacing[0] > 0 ? spacing[0] : 1;
  const yd = spacing[1] > 0 ? spacing[1] : 1;
  const zd = (spacing[2] > 0 ? spacing[2] : 1) * q.qfac;
  return [
    [(a * a + b * b - c * c - d * d) * xd, 2 * (b * c - a * d) * yd, 2 * (b * d + a * c) * zd, q.offset[0]],
    [2 * (b * c + a * d) * xd, (a * a + c * c - b * b - d * d) * yd, 2 * (c * d - a * b) * zd, q.offset[1]],
    [2 * (b * d - a * c) * xd, 2 * (c * d + a * b) * yd, (a * a + d * d - c * c - b * b) * zd, q.offset[2]],
    [0, 0, 0, 1],
  ];
}

/**
 * The qform quaternion closest to an affine (nifti1_io.c nifti_mat44_to_quatern): columns are
 * normalised, orthogonalised through the polar decomposition, and a negative determinant is
 * absorbed by qfac = -1.
 */
export function affineToQuaternion(m: Mat4): { quaternion: Quaternion; spacing: Vec3 } {
  const spacing = columnNorms(m).map((v) => (v > 0 ? v : 1)) as Vec3;
  let r = [0, 1, 2].map((row) => [0, 1, 2].map((col) => m[row][col] / spacing[col]));
  r = polarOrthogonal(r);
  let qfac: 1 | -1 = 1;
  if (determinant3(r) <= 0) {
    qfac = -1;
    for (let row = 0; row < 3; row++) r[row][2] = -r[row][2];
  }
  const [r11, r12, r13] = r[0];
  const [r21, r22, r23] = r[1];
  const [r31, r32, r33] = r[2];
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { quaternion: { b, c, d, offset: [m[0][3], m[1][3], m[2][3]], qfac }, spacing };
}

/** Nearest orthogonal matrix by the iteration of nifti_mat33_polar (X ← (X + X⁻ᵀ)/2). */
function polarOrthogonal(x: number[][]): number[][] {
  let current = x.map((row) => [...row]);
  for (let iteration = 0; iteration < 100; iteration++) {
    const inverseTranspose = transpose3(invert3(current));
    const next = current.map((row, i) => row.map((v, j) => 0.5 * (v + inverseTranspose[i][j])));
    let change = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) change += Math.abs(next[i][j] - current[i][j]);
    current = next;
    if (change < 1e-12) break;
  }
  return current;
}

function invert3(m: number[][]): number[][] {
  const full = invertAffine([
    [...m[0], 0],
    [...m[1], 0],
    [...m[2], 0],
    [0, 0, 0, 1],
  ]);
  return [0, 1, 2].map((r) => full[r].slice(0, 3));
}

function transpose3(m: number[][]): number[][] {
  return [0, 1, 2].map((r) => [0, 1, 2].map((c) => m[c][r]));
}
