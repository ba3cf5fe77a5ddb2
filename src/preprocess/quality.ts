/** Normalised cross-correlation of two images on one grid (1: identical up to brightness and contrast). */
export function normalisedCrossCorrelation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let [sa, sb] = [0, 0];
  for (let i = 0; i < a.length; i++) [sa, sb] = [sa + a[i], sb + b[i]];
  const [ma, mb] = [sa / a.length, sb / b.length];
  let [ab, aa, bb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    const [da, db] = [a[i] - ma, b[i] - mb];
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
