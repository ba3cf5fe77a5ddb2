export interface Statistics {
  mean: number | null;
  median: number | null;
  /** Population standard deviation (numpy's default, ddof = 0). */
  std: number | null;
  n: number;
}

export function describe(values: number[]): Statistics {
  const n = values.length;
  if (n === 0) return { mean: null, median: null, std: null, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sorted = [...values].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const std = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / n);
  return { mean, median, std, n };
}
