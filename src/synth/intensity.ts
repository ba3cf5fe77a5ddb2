import type { Vec3 } from '../io/affine.js';
import type { Random } from '../runtime/random.js';
import { FINE_LABEL_NAMES, Tissue, isCsf, structureWhiteness } from './anatomy.js';

/** Relative T1w intensities of the tissue classes in one session. */
export interface Contrast {
  grey: number;
  white: number;
  /** The white-matter intensity the deep grey structures are graded towards (they myelinate earlier in infancy). */
  deepWhite: number;
  csf: number;
}

/** Aging: grey matter brightens towards white matter with age, so GM/WM contrast slowly decreases. */
export function agingContrast(ageYears: number): Contrast {
  const grey = Math.min(0.85, 0.6 + 0.004 * (ageYears - 60));
  return { grey, white: 1, deepWhite: 1, csf: 0.25 };
}

/**
 * Infant T1w: white matter darker than grey at 3 months, isointense near 10 months, brighter by
 * 36 months (myelination), on a log-age scale. The basal ganglia and thalami myelinate earlier, so
 * their contrast runs about a year ahead and never vanishes with the cerebral white matter's.
 */
export function infantContrast(ageMonths: number): Contrast {
  const grey = 0.7;
  const white = (months: number) =>
    grey * (0.78 + 0.44 * Math.min(1, Math.max(0, Math.log(months / 3) / Math.log(12))));
  return { grey, white: white(ageMonths), deepWhite: white(3 * ageMonths), csf: 0.3 };
}

export interface AcquisitionEffects {
  /** Gaussian blur (voxels) standing in for partial volume. */
  blurVoxels: number;
  /** Peak relative amplitude of the smooth multiplicative bias field. */
  biasAmplitude: number;
  /** Noise standard deviation relative to the white-matter intensity. */
  noise: number;
  /** Global intensity scale of the scanner. */
  scale: number;
}

/**
 * A skull-stripped T1w image of fine labels: contrast, partial-volume blur, bias field, Rician noise
 * inside the head and exact zeros outside it (as the skull-stripped inputs of the paper), scale.
 */
export function renderT1w(
  fine: Uint8Array,
  shape: Vec3,
  contrast: Contrast,
  effects: AcquisitionEffects,
  random: Random,
): Float32Array {
  const value = new Float32Array(FINE_LABEL_NAMES.length);
  for (let label = 1; label < value.length; label++) {
    // deep grey structures lie between grey and white matter by their myelin content (pallidum brightest)
    const whiteness = structureWhiteness(label) ?? 0;
    value[label] = isCsf(label)
      ? contrast.csf
      : label === Tissue.WhiteMatter
        ? contrast.white
        : contrast.grey + whiteness * (contrast.deepWhite - contrast.grey);
  }
  const image = new Float32Array(fine.length);
  for (let i = 0; i < fine.length; i++) image[i] = value[fine[i]];
  gaussianBlur(image, shape, effects.blurVoxels);
  const bias = biasField(shape, effects.biasAmplitude, random);
  const sigma = effects.noise * Math.max(contrast.white, contrast.grey);
  for (let i = 0; i < image.length; i++) {
    if (image[i] === 0) continue;
    const real = image[i] * bias[i] + sigma * random.normal();
    const imaginary = sigma * random.normal();
    image[i] = effects.scale * Math.sqrt(real * real + imaginary * imaginary);
  }
  return image;
}

/** exp of a random smooth polynomial of degree 2 in normalised coordinates, as MRI bias fields are modelled. */
function biasField(shape: Vec3, amplitude: number, random: Random): Float32Array {
  const c = Array.from({ length: 9 }, () => random.uniform(-1, 1) * amplitude * 0.5);
  const field = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let k = 0, n = 0; k < shape[2]; k++) {
    const z = (2 * k) / (shape[2] - 1) - 1;
    for (let j = 0; j < shape[1]; j++) {
      const y = (2 * j) / (shape[1] - 1) - 1;
      for (let i = 0; i < shape[0]; i++, n++) {
        const x = (2 * i) / (shape[0] - 1) - 1;
        field[n] = Math.exp(
          c[0] * x +
            c[1] * y +
            c[2] * z +
            c[3] * x * y +
            c[4] * y * z +
            c[5] * x * z +
            c[6] * (x * x - 0.33) +
            c[7] * (y * y - 0.33) +
            c[8] * (z * z - 0.33),
        );
      }
    }
  }
  return field;
}

/** Separable Gaussian blur in place (kernel truncated at 3σ, edges clamped). */
export function gaussianBlur(image: Float32Array, shape: Vec3, sigma: number): void {
  if (sigma <= 0) return;
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b);
  const weights = kernel.map((w) => w / total);
  const strides = [1, shape[0], shape[0] * shape[1]];
  const line = new Float32Array(Math.max(...shape));
  for (let axis = 0; axis < 3; axis++) {
    const length = shape[axis];
    const stride = strides[axis];
    const [a, b] = [0, 1, 2].filter((x) => x !== axis);
    for (let q = 0; q < shape[b]; q++) {
      for (let p = 0; p < shape[a]; p++) {
        const start = p * strides[a] + q * strides[b];
        for (let t = 0; t < length; t++) line[t] = image[start + t * stride];
        for (let t = 0; t < length; t++) {
          let sum = 0;
          for (let w = -radius; w <= radius; w++)
            sum += weights[w + radius] * line[Math.min(length - 1, Math.max(0, t + w))];
          image[start + t * stride] = sum;
        }
      }
    }
  }
}
