import { mean, sampleSd } from './statistics.js';

/**
 * Two-sided paired tests of two arms measured on the same units (seeds, subjects), as
 * scipy.stats.ttest_rel and scipy.stats.wilcoxon compute them.
 */

/** Student's paired t-test of the mean difference a − b: p 0 for a constant non-zero difference, NaN for none at all. */
export function pairedTTest(a: number[], b: number[]): { t: number; p: number } {
  const d = differences(a, b);
  const n = d.length;
  const t = mean(d) / (sampleSd(d) / Math.sqrt(n));
  if (n < 2 || Number.isNaN(t)) return { t, p: Number.NaN };
  if (!Number.isFinite(t)) return { t, p: 0 };
  const df = n - 1;
  return { t, p: regularisedBeta(df / (df + t * t), df / 2, 0.5) };
}

/**
 * Wilcoxon's signed-rank test on a − b, zero differences dropped (Wilcoxon's rule), with scipy's
 * choice of null distribution: exact when there are no ties or zeros (n ≤ 50); all 2^n sign changes
 * when there are and n ≤ 13; else the normal approximation with the tie correction (scipy's default has no continuity correction).
 */
export function wilcoxonSignedRank(a: number[], b: number[]): { statistic: number; p: number } {
  const all = differences(a, b);
  const d = all.filter((x) => x !== 0);
  const n = d.length;
  if (n === 0) return { statistic: 0, p: Number.NaN };
  const ranks = averageRanks(d.map(Math.abs));
  const plus = d.reduce((sum, x, i) => sum + (x > 0 ? ranks[i] : 0), 0);
  const statistic = Math.min(plus, (n * (n + 1)) / 2 - plus);
  const tied = new Set(ranks).size < n;
  if (!tied && all.length === n && all.length <= 50) {
    // counts[s]: subsets of the ranks 1…n summing to s
    const counts = new Float64Array((n * (n + 1)) / 2 + 1);
    counts[0] = 1;
    for (let rank = 1; rank <= n; rank++) for (let s = counts.length - 1; s >= rank; s--) counts[s] += counts[s - rank];
    const atMost = counts.slice(0, statistic + 1).reduce((sum, c) => sum + c, 0);
    return { statistic, p: Math.min(1, (2 * atMost) / 2 ** n) };
  }
  if (all.length <= 13) {
    const tolerance = 1e-12 * Math.max(1, plus);
    let [below, above] = [0, 0];
    for (let signs = 0; signs < 2 ** n; signs++) {
      const sum = ranks.reduce((total, rank, i) => total + ((signs >> i) & 1 ? rank : 0), 0);
      if (sum <= plus + tolerance) below++;
      if (sum >= plus - tolerance) above++;
    }
    return { statistic, p: Math.min(1, (2 * Math.min(below, above)) / 2 ** n) };
  }
  const tieTerm = [...tieSizes(ranks)].reduce((sum, t) => sum + t ** 3 - t, 0);
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  const z = Math.abs(plus - (n * (n + 1)) / 4) / sd;
  return { statistic, p: Math.min(1, 2 * normalTail(Math.max(0, z))) };
}

function differences(a: number[], b: number[]): number[] {
  if (a.length !== b.length) throw new Error(`paired test: ${a.length} against ${b.length} values`);
  return a.map((x, i) => x - b[i]);
}

/** Ranks 1…n of the values, ties given their average rank. */
function averageRanks(values: number[]): number[] {
  const order = values.map((value, index) => ({ value, index })).sort((x, y) => x.value - y.value);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && order[end + 1].value === order[start].value) end++;
    for (let k = start; k <= end; k++) ranks[order[k].index] = (start + end) / 2 + 1;
    start = end + 1;
  }
  return ranks;
}

function tieSizes(ranks: number[]): Iterable<number> {
  const sizes = new Map<number, number>();
  for (const rank of ranks) sizes.set(rank, (sizes.get(rank) ?? 0) + 1);
  return sizes.values();
}

/** P(Z > z) of the standard normal. */
function normalTail(z: number): number {
  return 0.5 * regularisedGammaQ(0.5, (z * z) / 2);
}

/** The regularised upper incomplete gamma Q(a, x), by its continued fraction (x ≥ a + 1) or series. */
function regularisedGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - logGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let k = 1; k < 500 && Math.abs(term) > 1e-16 * Math.abs(sum); k++) sum += term *= x / (a + k);
    return 1 - sum * front;
  }
  return (
    front *
    continuedFraction(
      (k) => (k === 0 ? 1 : -k * (k - a)),
      (k) => x + 2 * k + 1 - a,
    )
  );
}

/** The regularised incomplete beta I_x(a, b). */
export function regularisedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - regularisedBeta(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  // the continued fraction of Numerical Recipes' betacf, as numerators d_k over a denominator of 1
  const numerator = (k: number) => {
    if (k === 0) return 1;
    const m = Math.floor(k / 2);
    return k % 2 === 0
      ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m))
      : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
  };
  return front * continuedFraction(numerator, () => 1);
}

/** numerator(0) / (denominator(0) + numerator(1) / (denominator(1) + …)) by the modified Lentz method. */
function continuedFraction(numerator: (k: number) => number, denominator: (k: number) => number): number {
  const tiny = 1e-300;
  let f = tiny;
  let c = f;
  let d = 0;
  for (let k = 0; k < 1000; k++) {
    d = denominator(k) + numerator(k) * d;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = denominator(k) + numerator(k) / c;
    if (Math.abs(c) < tiny) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return f;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9). */
function logGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = g[0];
  for (let i = 1; i < 9; i++) sum += g[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}
