import type { Mat4 } from '../io/affine.js';
import { multiply4 } from '../io/affine.js';
import type { Volume } from '../io/volume.js';

/** ITK's physical space is LPS; longiseg's (NIfTI's) is RAS. */
const LPS_TO_RAS: Mat4 = [
  [-1, 0, 0, 0],
  [0, -1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];

/**
 * An ITK affine (12 parameters: the 3×3 matrix row by row, then the translation; with its centre c)
 * maps x ↦ A(x − c) + c + t in LPS. Returned as a 4×4 in RAS.
 */
export function itkAffineToRas(parameters: number[], centre: number[]): Mat4 {
  const a = [parameters.slice(0, 3), parameters.slice(3, 6), parameters.slice(6, 9)];
  const t = parameters.slice(9, 12);
  const lps: Mat4 = [0, 1, 2].map((i) => [
    ...a[i],
    t[i] + centre[i] - a[i].reduce((sum, v, j) => sum + v * centre[j], 0),
  ]);
  lps.push([0, 0, 0, 1]);
  return multiply4(LPS_TO_RAS, multiply4(lps, LPS_TO_RAS));
}

/** The inverse of itkAffineToRas with the centre at the origin: [a11 … a33, t1 t2 t3] in LPS. */
export function rasToItkAffine(matrix: Mat4): number[] {
  const lps = multiply4(LPS_TO_RAS, multiply4(matrix, LPS_TO_RAS));
  return [...lps[0].slice(0, 3), ...lps[1].slice(0, 3), ...lps[2].slice(0, 3), lps[0][3], lps[1][3], lps[2][3]];
}

/** An ITK displacement field (LPS vectors) → RAS vectors, in place. */
export function lpsFieldToRas(field: Volume): Volume {
  const voxels = field.shape[0] * field.shape[1] * field.shape[2];
  for (let i = 0; i < 2 * voxels; i++) field.data[i] = -field.data[i];
  return field;
}

/** Values of `(Key v1 v2 …)` lines of an elastix parameter file. */
export function parseParameterFile(text: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^\s*\((\w+)\s+(.*)\)\s*$/.exec(line.replace(/\/\/.*$/, ''));
    if (!match) continue;
    const values = [...match[2].matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
    entries.set(match[1], values);
  }
  return entries;
}

export function formatParameterFile(entries: Record<string, string | number | boolean | (string | number)[]>): string {
  const value = (v: string | number | boolean) =>
    typeof v === 'string' ? `"${v}"` : typeof v === 'boolean' ? `"${v}"` : String(v);
  return (
    Object.entries(entries)
      .map(([key, v]) => `(${key} ${Array.isArray(v) ? v.map(value).join(' ') : value(v)})`)
      .join('\n') + '\n'
  );
}
