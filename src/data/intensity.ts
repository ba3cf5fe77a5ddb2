import type { VoxelArray } from '../io/volume.js';

/** numpy.percentile with its default linear interpolation, of values already sorted ascending. */
export function percentileOfSorted(sorted: ArrayLike<number>, percent: number): number {
  const position = (percent / 100) * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}

/**
 * The reference's per-volume normalisation (../shared/spec/method.md §4.3):
 * (x − min) / (P_upper(x) − min), not clipped; a volume whose denominator is 0 is left as it is.
 */
export function normaliseMinPercentile(data: VoxelArray, upperPercentile: number): Float32Array {
  const sorted = Float32Array.from(data).sort();
  const low = sorted[0];
  const range = percentileOfSorted(sorted, upperPercentile) - low;
  if (!(range > 0)) return Float32Array.from(data);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = (data[i] - low) / range;
  return out;
}
