import { applyAffine, type Mat4, type Vec3 } from '../io/affine.js';
import { createVolume, type Grid, type Volume } from '../io/volume.js';
import { ExternalToolError } from '../runtime/errors.js';
import { itkAffineToRas } from './itk-transform.js';

/** An elastix transform parameter map as elastix writes it: every value a list of strings. */
export type TransformMap = Map<string, string[]>;

type PointTransform = (p: Vec3) => Vec3;

const RAS_TO_LPS = (p: Vec3): Vec3 => [-p[0], -p[1], p[2]];

/** Cubic B-spline weights of the four nodes around continuous index `c` (ITK's support starts at floor(c − 1)). */
function cubicWeights(c: number): { start: number; weights: number[] } {
  const start = Math.floor(c - 1);
  const weights = [0, 1, 2, 3].map((k) => {
    const t = Math.abs(c - (start + k));
    if (t < 1) return (4 - 6 * t * t + 3 * t * t * t) / 6;
    if (t < 2) return (2 - t) ** 3 / 6;
    return 0;
  });
  return { start, weights };
}

function numbers(map: TransformMap, key: string, count?: number): number[] {
  const values = map.get(key)?.map(Number);
  if (!values || values.some((v) => !Number.isFinite(v)) || (count !== undefined && values.length !== count)) {
    throw new ExternalToolError(
      `elastix transform parameters: ${key} is missing or not ${count ?? 'a list of'} numbers`,
    );
  }
  return values;
}

/** elastix's (Advanced)BSplineTransform of order 3, as a point map in LPS: p ↦ p + Σ w·coefficient, 0 outside the grid's support. */
function bsplineTransform(map: TransformMap): PointTransform {
  const order = map.has('BSplineTransformSplineOrder') ? numbers(map, 'BSplineTransformSplineOrder', 1)[0] : 3;
  if (order !== 3)
    throw new ExternalToolError(`elastix transform parameters: B-spline order ${order} is not supported (3 is)`);
  const size = numbers(map, 'GridSize', 3);
  const origin = numbers(map, 'GridOrigin', 3);
  const spacing = numbers(map, 'GridSpacing', 3);
  const direction = map.has('GridDirection') ? numbers(map, 'GridDirection', 9) : [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const coefficients = numbers(map, 'TransformParameters', 3 * size[0] * size[1] * size[2]);
  const nodes = size[0] * size[1] * size[2];
  // continuous index = D⁻¹ (p − origin) / spacing; D is orthonormal (elastix writes direction column by column)
  const columns: Vec3[] = [0, 1, 2].map((j) => [direction[3 * j], direction[3 * j + 1], direction[3 * j + 2]]);
  return (p) => {
    const d: Vec3 = [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]];
    const index = [0, 1, 2].map((j) => columns[j].reduce((sum, v, i) => sum + v * d[i], 0) / spacing[j]);
    const support = index.map(cubicWeights);
    if (support.some((s, j) => s.start < 0 || s.start + 3 >= size[j])) return p;
    const u: Vec3 = [0, 0, 0];
    for (let c = 0; c < 4; c++) {
      for (let b = 0; b < 4; b++) {
        const wbc = support[1].weights[b] * support[2].weights[c];
        const row = ((support[2].start + c) * size[1] + support[1].start + b) * size[0] + support[0].start;
        for (let a = 0; a < 4; a++) {
          const w = support[0].weights[a] * wbc;
          for (let dim = 0; dim < 3; dim++) u[dim] += w * coefficients[dim * nodes + row + a];
        }
      }
    }
    return [p[0] + u[0], p[1] + u[1], p[2] + u[2]];
  };
}

/** One map of the chain as an LPS point map. */
function pointTransform(map: TransformMap): PointTransform {
  const kind = map.get('Transform')?.[0];
  if (kind === 'AffineTransform') {
    const centre = map.has('CenterOfRotationPoint') ? numbers(map, 'CenterOfRotationPoint', 3) : [0, 0, 0];
    const ras = itkAffineToRas(numbers(map, 'TransformParameters', 12), centre);
    return (p) => RAS_TO_LPS(applyAffine(ras, RAS_TO_LPS(p)));
  }
  if (kind === 'BSplineTransform' || kind === 'RecursiveBSplineTransform') return bsplineTransform(map);
  throw new ExternalToolError(
    `elastix transform parameters: transform ${kind ?? '(none)'} is not supported (affine and B-spline are)`,
  );
}

/**
 * The displacement field (RAS vectors) on `grid` of a chain of elastix transform maps, the initial
 * transform first: with HowToCombineTransforms Compose elastix maps a fixed point p to
 * last(…(first(p))), which is what transformix `-def all` writes.
 */
export function elastixChainField(chain: TransformMap[], grid: Grid): Volume {
  const transforms = chain.map(pointTransform);
  const [nx, ny, nz] = grid.shape;
  const voxels = nx * ny * nz;
  const out = new Float32Array(3 * voxels);
  let n = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        const p = RAS_TO_LPS(applyAffine(grid.affine, [i, j, k]));
        const q = transforms.reduce((point, transform) => transform(point), p);
        const u = RAS_TO_LPS([q[0] - p[0], q[1] - p[1], q[2] - p[2]]);
        for (let c = 0; c < 3; c++) out[n + c * voxels] = u[c];
      }
    }
  }
  return createVolume(out, [nx, ny, nz, 3], grid.affine as Mat4, grid.xforms);
}

/** The RAS affine of an elastix AffineTransform map; `failure` is the message when the map holds none. */
export function affineOfTransformMap(map: TransformMap, failure: string): Mat4 {
  const values = map.get('TransformParameters')?.map(Number);
  const centre = map.get('CenterOfRotationPoint')?.map(Number) ?? [0, 0, 0];
  if (
    map.get('Transform')?.[0] !== 'AffineTransform' ||
    !values ||
    values.length !== 12 ||
    values.some((v) => !Number.isFinite(v))
  )
    throw new ExternalToolError(failure);
  return itkAffineToRas(values, centre);
}
