import type { Vec3 } from '../io/affine.js';

/**
 * Exact squared Euclidean distance transform (Felzenszwalb & Huttenlocher 2012): for every voxel of
 * a box of shape `shape` (x fastest), the squared distance in mm to the nearest feature voxel, with
 * voxel size `spacing`. `squared` holds 0 at features and Infinity elsewhere on entry and the
 * result on return. Separable passes along x, y and z, each linear in the number of voxels.
 */
export function squaredDistanceTransform(squared: Float64Array, shape: Vec3, spacing: Vec3): void {
  const [nx, ny, nz] = shape;
  const longest = Math.max(nx, ny, nz);
  const line = new Float64Array(longest);
  const out = new Float64Array(longest);
  const sites = new Int32Array(longest);
  const bounds = new Float64Array(longest + 1);
  const pass = (length: number, stride: number, starts: Iterable<number>, step: number) => {
    const weight = step * step;
    for (const start of starts) {
      for (let q = 0, o = start; q < length; q++, o += stride) line[q] = squared[o];
      if (!lowerEnvelope(line, out, length, weight, sites, bounds)) continue;
      for (let q = 0, o = start; q < length; q++, o += stride) squared[o] = out[q];
    }
  };
  pass(nx, 1, lineStarts(nx, ny, nz, 'x'), spacing[0]);
  pass(ny, nx, lineStarts(nx, ny, nz, 'y'), spacing[1]);
  pass(nz, nx * ny, lineStarts(nx, ny, nz, 'z'), spacing[2]);
}

function* lineStarts(nx: number, ny: number, nz: number, axis: 'x' | 'y' | 'z'): Generator<number> {
  if (axis === 'x') {
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) yield nx * (j + ny * k);
  } else if (axis === 'y') {
    for (let k = 0; k < nz; k++) for (let i = 0; i < nx; i++) yield i + nx * ny * k;
  } else {
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) yield i + nx * j;
  }
}

/**
 * One-dimensional pass: out[q] = min_p f[p] + w·(q − p)². Only finite samples are parabola sites;
 * returns false (and leaves `out` untouched) when the line has none, so it stays all Infinity.
 */
function lowerEnvelope(
  f: Float64Array,
  out: Float64Array,
  n: number,
  w: number,
  v: Int32Array,
  z: Float64Array,
): boolean {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q];
    if (fq === Infinity) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    // z[0] = −∞, so the search stops at the first parabola at the latest.
    let s: number;
    for (;;) {
      const p = v[k];
      s = (fq + w * q * q - (f[p] + w * p * p)) / (2 * w * (q - p));
      if (s <= z[k]) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (k < 0) return false;
  let j = 0;
  for (let q = 0; q < n; q++) {
    while (z[j + 1] < q) j++;
    const d = q - v[j];
    out[q] = w * d * d + f[v[j]];
  }
  return true;
}
