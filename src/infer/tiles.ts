import type { Vec3 } from '../io/affine.js';

/** numpy.round: halves go to the even neighbour. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Tile starts along one axis, as nnU-Net computes them:
 * ceil((image − patch) / (patch·(1 − overlap))) + 1 tiles spread evenly from 0 to image − patch,
 * so the real stride never exceeds the target (image 110, patch 64, overlap 0.5 → 0, 23, 46).
 */
export function tileStarts(image: number, patch: number, overlap: number): number[] {
  if (patch > image) throw new RangeError(`patch ${patch} is larger than the image (${image}); pad first`);
  const count = Math.ceil((image - patch) / (patch * (1 - overlap))) + 1;
  if (count === 1) return [0];
  const stride = (image - patch) / (count - 1);
  return Array.from({ length: count }, (_, i) => roundHalfEven(stride * i));
}

/** Every tile origin of a volume, x fastest. */
export function tileOrigins(image: Vec3, patch: Vec3, overlap: number): Vec3[] {
  const [xs, ys, zs] = [0, 1, 2].map((axis) => tileStarts(image[axis], patch[axis], overlap));
  return zs.flatMap((z) => ys.flatMap((y) => xs.map((x): Vec3 => [x, y, z])));
}

/**
 * nnU-Net's importance map: a delta at the tile centre (index ⌊n/2⌋) blurred by a Gaussian of
 * σ = sigmaScale·n per axis (scipy's gaussian_filter, truncated at 4σ), scaled so that its maximum
 * is `peak`, zeros replaced by the smallest non-zero value. x fastest.
 */
export function gaussianImportance(patch: Vec3, sigmaScale = 1 / 8, peak = 10): Float32Array {
  const profiles = patch.map((n) => {
    const sigma = sigmaScale * n;
    const radius = Math.floor(4 * sigma + 0.5);
    const centre = Math.floor(n / 2);
    return Float64Array.from({ length: n }, (_, i) =>
      Math.abs(i - centre) <= radius ? Math.exp((-0.5 * (i - centre) ** 2) / sigma ** 2) : 0,
    );
  });
  const map = new Float32Array(patch[0] * patch[1] * patch[2]);
  let index = 0;
  let smallest = Infinity;
  for (let z = 0; z < patch[2]; z++) {
    for (let y = 0; y < patch[1]; y++) {
      for (let x = 0; x < patch[0]; x++, index++) {
        const value = peak * profiles[0][x] * profiles[1][y] * profiles[2][z];
        map[index] = value;
        if (value > 0 && value < smallest) smallest = value;
      }
    }
  }
  for (let i = 0; i < map.length; i++) if (map[i] === 0) map[i] = smallest;
  return map;
}
