/**
 * The histogram sharpening of N3 and N4 (Sled 1998, Tustison 2010): the log intensities of an image
 * are the true ones blurred by the bias field, a Gaussian of known width; a Wiener filter
 * deconvolves their histogram, and each log intensity v is mapped to E[u | v], the mean true log
 * intensity of the voxels that read v.
 */

export interface SharpeningOptions {
  bins: number;
  /** Full width at half maximum of the bias blur, in log intensity. */
  fwhm: number;
  /** Wiener filter noise. */
  noise: number;
}

/** The N4 defaults. */
export const N4_SHARPENING: SharpeningOptions = { bins: 200, fwhm: 0.15, noise: 0.01 };

/** Fourier transform of (re, im), length a power of two (inverse: conjugate sign, scaled by 1/n): iterative radix-2 FFT. */
function dft(inputRe: Float64Array, inputIm: Float64Array, inverse: boolean): [Float64Array, Float64Array] {
  const n = inputRe.length;
  const [re, im] = [Float64Array.from(inputRe), Float64Array.from(inputIm)];
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) [re[i], re[j], im[i], im[j]] = [re[j], re[i], im[j], im[i]];
  }
  for (let length = 2; length <= n; length <<= 1) {
    const angle = ((inverse ? 2 : -2) * Math.PI) / length;
    const [stepRe, stepIm] = [Math.cos(angle), Math.sin(angle)];
    for (let start = 0; start < n; start += length) {
      let [wRe, wIm] = [1, 0];
      for (let k = 0; k < length / 2; k++) {
        const [a, b] = [start + k, start + k + length / 2];
        const tRe = re[b] * wRe - im[b] * wIm;
        const tIm = re[b] * wIm + im[b] * wRe;
        [re[b], im[b]] = [re[a] - tRe, im[a] - tIm];
        [re[a], im[a]] = [re[a] + tRe, im[a] + tIm];
        [wRe, wIm] = [wRe * stepRe - wIm * stepIm, wRe * stepIm + wIm * stepRe];
      }
    }
  }
  if (inverse) for (let k = 0; k < n; k++) [re[k], im[k]] = [re[k] / n, im[k] / n];
  return [re, im];
}

/** Circular convolution of a real signal with a real kernel given by its transform. */
function convolve(signal: Float64Array, kernelRe: Float64Array, kernelIm: Float64Array): Float64Array {
  const [re, im] = dft(signal, new Float64Array(signal.length), false);
  for (let k = 0; k < re.length; k++)
    [re[k], im[k]] = [re[k] * kernelRe[k] - im[k] * kernelIm[k], re[k] * kernelIm[k] + im[k] * kernelRe[k]];
  return dft(re, im, true)[0];
}

/**
 * E[u | v] for every value of `values` (log intensities), in their order. Values spread over less
 * than a bin's worth of the blur are returned as they are.
 */
export function sharpen(values: Float64Array, options: SharpeningOptions = N4_SHARPENING): Float64Array {
  let [low, high] = [Infinity, -Infinity];
  for (const v of values) [low, high] = [Math.min(low, v), Math.max(high, v)];
  const { bins } = options;
  const width = (high - low) / (bins - 1);
  if (!(width > 0)) return Float64Array.from(values);

  // the histogram, each value split between its two bins, centred in a zero-padded power of two
  const size = 2 ** (Math.ceil(Math.log2(bins)) + 1);
  const offset = Math.floor((size - bins) / 2);
  const histogram = new Float64Array(size);
  for (const v of values) {
    const position = (v - low) / width;
    const bin = Math.min(Math.floor(position), bins - 2);
    const fraction = position - bin;
    histogram[offset + bin] += 1 - fraction;
    histogram[offset + bin + 1] += fraction;
  }

  // the blur, a Gaussian of the given FWHM in bins, centred at 0 (circularly)
  const fwhmBins = options.fwhm / width;
  const exponent = (4 * Math.log(2)) / (fwhmBins * fwhmBins);
  const scale = Math.sqrt(exponent / Math.PI);
  const kernel = new Float64Array(size);
  for (let t = 0; t <= size / 2; t++) kernel[t] = kernel[(size - t) % size] = scale * Math.exp(-exponent * t * t);
  const [kernelRe, kernelIm] = dft(kernel, new Float64Array(size), false);

  // Wiener deconvolution: U = V conj(F) / (|F|² + noise)
  const [re, im] = dft(histogram, new Float64Array(size), false);
  for (let k = 0; k < size; k++) {
    const [fr, fi] = [kernelRe[k], kernelIm[k]];
    const gain = 1 / (fr * fr + fi * fi + options.noise);
    [re[k], im[k]] = [(re[k] * fr + im[k] * fi) * gain, (im[k] * fr - re[k] * fi) * gain];
  }
  const sharpened = dft(re, im, true)[0].map((u) => Math.max(u, 0));

  // E[u | v] = (F ∗ (u·U)) / (F ∗ U) at each bin
  const binValue = (j: number) => low + (j - offset) * width;
  const numerator = convolve(
    sharpened.map((u, j) => u * binValue(j)),
    kernelRe,
    kernelIm,
  );
  const denominator = convolve(sharpened, kernelRe, kernelIm);
  const expected = new Float64Array(bins);
  for (let j = 0; j < bins; j++) {
    const d = denominator[offset + j];
    expected[j] = d > 0 ? numerator[offset + j] / d : binValue(offset + j);
  }

  return values.map((v) => {
    const position = (v - low) / width;
    const bin = Math.min(Math.floor(position), bins - 2);
    const fraction = position - bin;
    return expected[bin] + fraction * (expected[bin + 1] - expected[bin]);
  });
}
