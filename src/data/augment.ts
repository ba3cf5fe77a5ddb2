import type { Mat4, Vec3 } from '../io/affine.js';
import type { VoxelArray } from '../io/volume.js';
import { Random } from '../runtime/random.js';
import { aboutCentre, multiply3, resampleVoxels, rotation } from './geometry.js';
import { applyMotion, sampleMotion, type MotionConfig, type MotionRecipe } from './motion.js';

/**
 * The reference's augmentations (TorchIO defaults as its scripts use them): each applied with its
 * own probability. Parameters are sampled once into a recipe, so that
 * the second session of a pair gets exactly the same transforms (and the same noise) as the first.
 */
export interface AugmentConfig {
  /** Flip of the first axis (left-right after reorientation): p, then 0.5 inside, as TorchIO. */
  flip: { p: number };
  /** Per-axis scale U(1 − scale, 1 + scale), rotation U(−degrees, degrees) per axis, about the centre. */
  affine: { p: number; scale: number; degrees: number };
  /** Gaussian blur, σ per axis U(0, sigma) voxels. */
  blur: { p: number; sigma: number };
  /** Additive Gaussian noise, std U(0, std). */
  noise: { p: number; std: number };
  /** × exp(polynomial of degree `order`), coefficients U(−coefficient, coefficient). */
  biasField: { p: number; coefficient: number; order: number };
  /** x^γ, γ = exp(U(−logGamma, logGamma)). */
  gamma: { p: number; logGamma: number };
  motion: MotionConfig;
}

export const REFERENCE_AUGMENT: AugmentConfig = {
  flip: { p: 0.5 },
  affine: { p: 0.5, scale: 0.2, degrees: 10 },
  blur: { p: 0.3, sigma: 2 },
  noise: { p: 0.25, std: 0.25 },
  biasField: { p: 0.2, coefficient: 0.5, order: 3 },
  gamma: { p: 0.3, logGamma: 0.3 },
  motion: { p: 0.1, degrees: 10, translation: 10, transforms: 2 },
};

/** The axes the flip augmentation mirrors: the first alone, left-right in closest-RAS voxel order. */
export const FLIP_AXES: readonly number[] = [0];

export interface SpatialRecipe {
  /** Mirrored along FLIP_AXES. */
  flip: boolean;
  /** Voxel map output → input (about the centre), when the affine transform was drawn. */
  affine?: Mat4;
}

export interface IntensityRecipe {
  blur?: Vec3;
  noise?: { std: number; seed: number };
  biasField?: number[];
  gamma?: number;
  motion?: MotionRecipe;
}

export function sampleSpatial(random: Random, config: AugmentConfig, shape: Vec3): SpatialRecipe {
  const flip = random.next() < config.flip.p && random.next() < 0.5;
  if (!(random.next() < config.affine.p)) return { flip };
  const scales = [0, 1, 2].map(() => random.uniform(1 - config.affine.scale, 1 + config.affine.scale));
  const angles = [0, 1, 2].map(() => (random.uniform(-config.affine.degrees, config.affine.degrees) * Math.PI) / 180);
  // an image scaled by s is sampled at p/s: output → input = R·diag(1/s)
  const matrix = multiply3(
    rotation(angles),
    [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? 1 / scales[i] : 0))),
  );
  return { flip, affine: aboutCentre(matrix, [0, 0, 0], shape) };
}

export function sampleIntensity(random: Random, config: AugmentConfig): IntensityRecipe {
  const recipe: IntensityRecipe = {};
  if (random.next() < config.blur.p) recipe.blur = [0, 1, 2].map(() => random.uniform(0, config.blur.sigma)) as Vec3;
  if (random.next() < config.noise.p)
    recipe.noise = { std: random.uniform(0, config.noise.std), seed: random.uint32() };
  if (random.next() < config.biasField.p)
    recipe.biasField = monomials(config.biasField.order).map(() =>
      random.uniform(-config.biasField.coefficient, config.biasField.coefficient),
    );
  if (random.next() < config.gamma.p)
    recipe.gamma = Math.exp(random.uniform(-config.gamma.logGamma, config.gamma.logGamma));
  if (random.next() < config.motion.p) recipe.motion = sampleMotion(random, config.motion);
  return recipe;
}

/** Flip, then the affine transform; images trilinear with the minimum outside, labels nearest with 0. */
export function applySpatial<T extends VoxelArray>(
  data: T,
  shape: Vec3,
  recipe: SpatialRecipe,
  kind: 'image' | 'label',
): T {
  let out = recipe.flip ? flipFirstAxis(data, shape) : data;
  if (recipe.affine)
    out = resampleVoxels(
      out,
      shape,
      recipe.affine,
      kind === 'image' ? 'linear' : 'nearest',
      kind === 'image' ? minimum(out) : 0,
    ) as T;
  return out;
}

/** Where a box of voxels lies in the volume it was cut from. */
export interface Placement {
  start: Vec3;
  volume: Vec3;
}

/**
 * Blur, noise, bias field, gamma, motion (the reference's order) on a copy. With `placement`, the
 * data is a box of a larger volume: the bias field is evaluated at the box's place in it (motion,
 * which needs the whole volume, is not allowed).
 */
export function applyIntensity(
  data: Float32Array,
  shape: Vec3,
  recipe: IntensityRecipe,
  placement: Placement = { start: [0, 0, 0], volume: shape },
): Float32Array {
  let out: Float32Array = Float32Array.from(data);
  if (recipe.blur) out = gaussianBlur(out, shape, recipe.blur);
  if (recipe.noise) {
    const random = new Random(recipe.noise.seed);
    for (let i = 0; i < out.length; i++) out[i] += recipe.noise.std * random.normal();
  }
  if (recipe.biasField) multiplyBiasField(out, shape, recipe.biasField, placement);
  if (recipe.gamma !== undefined) {
    const g = recipe.gamma;
    for (let i = 0; i < out.length; i++) out[i] = Math.sign(out[i]) * Math.abs(out[i]) ** g;
  }
  if (recipe.motion) {
    if (placement.volume.some((n, axis) => n !== shape[axis]))
      throw new RangeError('motion augmentation needs the whole volume');
    out = applyMotion(out, shape, recipe.motion);
  }
  return out;
}

function minimum(data: VoxelArray): number {
  let min = Infinity;
  for (let i = 0; i < data.length; i++) if (data[i] < min) min = data[i];
  return min;
}

function flipFirstAxis<T extends VoxelArray>(data: T, [nx]: Vec3): T {
  const out = data.slice() as T;
  for (let row = 0; row < data.length; row += nx) for (let x = 0; x < nx; x++) out[row + x] = data[row + nx - 1 - x];
  return out;
}

/** scipy.ndimage.gaussian_filter: kernel radius ⌊4σ + 0.5⌋, mode 'reflect' (… c b a | a b c …). */
export function gaussianBlur(data: Float32Array, shape: Vec3, sigmas: Vec3): Float32Array {
  let out = data;
  const strides = [1, shape[0], shape[0] * shape[1]];
  sigmas.forEach((sigma, axis) => {
    if (!(sigma > 0)) return;
    const radius = Math.floor(4 * sigma + 0.5);
    const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp((-0.5 * (i - radius) ** 2) / sigma ** 2));
    const total = kernel.reduce((a, b) => a + b);
    const weights = kernel.map((k) => k / total);
    const n = shape[axis];
    const stride = strides[axis];
    const source = out;
    const result = new Float32Array(source.length);
    const reflect = (i: number): number => {
      const period = 2 * n;
      const m = ((i % period) + period) % period;
      return m < n ? m : period - 1 - m;
    };
    const index = Int32Array.from({ length: n + 2 * radius }, (_, i) => reflect(i - radius) * stride);
    for (let start = 0; start < source.length; start++) {
      if (Math.floor(start / stride) % n !== 0) continue; // first voxel of a line along `axis`
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += weights[k] * source[start + index[i + k]];
        result[start + i * stride] = sum;
      }
    }
    out = result;
  });
  return out;
}

/** Exponents (i, j, k) with i + j + k ≤ order, in TorchIO's order (20 for order 3). */
export function monomials(order: number): Vec3[] {
  const terms: Vec3[] = [];
  for (let i = 0; i <= order; i++)
    for (let j = 0; j <= order - i; j++) for (let k = 0; k <= order - i - j; k++) terms.push([i, j, k]);
  return terms;
}

/** × exp(Σ c·x^i y^j z^k), coordinates arange(−n/2, n/2) of the whole volume divided by their maximum (TorchIO). */
function multiplyBiasField(data: Float32Array, shape: Vec3, coefficients: number[], placement: Placement): void {
  const axes = placement.volume.map((n, axis) => {
    const values = Array.from({ length: n }, (_, i) => i - n / 2);
    const max = Math.max(...values);
    return values.slice(placement.start[axis], placement.start[axis] + shape[axis]).map((v) => (max > 0 ? v / max : v));
  });
  const terms = monomials(orderOf(coefficients.length));
  const powers = axes.map((values) =>
    Array.from({ length: orderOf(coefficients.length) + 1 }, (_, e) => values.map((v) => v ** e)),
  );
  let index = 0;
  for (let z = 0; z < shape[2]; z++) {
    for (let y = 0; y < shape[1]; y++) {
      for (let x = 0; x < shape[0]; x++, index++) {
        let field = 0;
        for (let t = 0; t < terms.length; t++) {
          const [i, j, k] = terms[t];
          field += coefficients[t] * powers[0][i][x] * powers[1][j][y] * powers[2][k][z];
        }
        data[index] *= Math.exp(field);
      }
    }
  }
}

function orderOf(count: number): number {
  let order = 0;
  while (monomials(order).length < count) order++;
  return order;
}
