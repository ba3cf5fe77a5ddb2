export interface Statistics {
  mean: number | null;
  median: number | null;
  /** Population standard deviation (numpy's default, ddof = 0). */
  std: number | null;
  n: number;
}

export const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

const squaredDeviations = (values: number[], centre: number) => values.reduce((sum, v) => sum + (v - centre) ** 2, 0);

/** Sample standard deviation (ddof = 1, as a spread over seeds is reported). */
export const sampleSd = (values: number[]): number =>
  Math.sqrt(squaredDeviations(values, mean(values)) / (values.length - 1));

export function describe(values: number[]): Statistics {
  const n = values.length;
  if (n === 0) return { mean: null, median: null, std: null, n };
  const centre = mean(values);
  const sorted = [...values].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  return { mean: centre, median, std: Math.sqrt(squaredDeviations(values, centre) / n), n };
}
