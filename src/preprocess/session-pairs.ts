/**
 * Which ordered pairs of a subject's sessions are registered deformably.
 * - 'all': every ordered pair, N(N − 1) registrations.
 * - 'cycle': each session with its neighbours in time, and the last with the first, both ways: 2N
 *   registrations (N(N − 1) for N ≤ 3).
 * - 'neighbours': each session with its neighbours in time, both ways: 2(N − 1) registrations.
 * matchSumCoefficients gives every session's matches from the cycle's or the neighbours' pairs.
 * Neighbours in time are also the pairs whose contrast differs least.
 */
export const SESSION_PAIRS = ['cycle', 'neighbours', 'all'] as const;
export type SessionPairs = (typeof SESSION_PAIRS)[number];

/** Session indices in time order: by age where every session has one, else by session label. */
export function timeOrder(sessions: readonly { session: string; age?: number }[]): number[] {
  const byAge = sessions.every((s) => s.age !== undefined && Number.isFinite(s.age));
  return sessions
    .map((_, index) => index)
    .sort((a, b) =>
      byAge && sessions[a].age !== sessions[b].age
        ? sessions[a].age! - sessions[b].age!
        : sessions[a].session.localeCompare(sessions[b].session, 'en', { numeric: true }),
    );
}

/** The ordered pairs [fixed, moving] registered, as positions in time order. */
export function registeredPairs(count: number, scheme: SessionPairs): [number, number][] {
  const pairs: [number, number][] = [];
  for (let fixed = 0; fixed < count; fixed++) {
    for (let moving = 0; moving < count; moving++) {
      const neighbours = Math.abs(moving - fixed) === 1;
      const closing = count > 2 && Math.abs(moving - fixed) === count - 1;
      if (moving !== fixed && (scheme === 'all' || neighbours || (scheme === 'cycle' && closing)))
        pairs.push([fixed, moving]);
    }
  }
  return pairs;
}

/** The inverse of a small square matrix (Gauss–Jordan with partial pivoting). */
function invert(matrix: number[][]): number[][] {
  const n = matrix.length;
  const a = matrix.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let column = 0; column < n; column++) {
    let pivot = column;
    for (let row = column + 1; row < n; row++) if (Math.abs(a[row][column]) > Math.abs(a[pivot][column])) pivot = row;
    [a[column], a[pivot]] = [a[pivot], a[column]];
    const scale = a[column][column];
    for (let j = 0; j < 2 * n; j++) a[column][j] /= scale;
    for (let row = 0; row < n; row++) {
      if (row === column) continue;
      const factor = a[row][column];
      for (let j = 0; j < 2 * n; j++) a[row][j] -= factor * a[column][j];
    }
  }
  return a.map((row) => row.slice(n));
}

/**
 * How each session's sum of matches over the other sessions, Σ_j m_ij, follows from the registered
 * pairs alone: coefficients c[i][e] with Σ_j m_ij ≈ Σ_e c[i][e] m_e, m_e the matches of pair e.
 * Each session sits at d_i from the midpoint, every pair (a, b) measures m_ab ≈ d_b − d_a, and the
 * offsets are their least-squares solution with Σ d_i = 0 (d = L⁺Dᵀm, L the pairs' graph Laplacian,
 * D their incidence); then Σ_j m_ij = Σ_j (d_j − d_i) = −N d_i. The solution is linear in the
 * matches, so registration errors add up instead of compounding as they would along composed
 * chains of deformations.
 */
export function matchSumCoefficients(count: number, pairs: [number, number][]): number[][] {
  // (L + 11ᵀ/N)⁻¹ − 11ᵀ/N is L⁺ for a connected graph
  const laplacianPlusMean = Array.from({ length: count }, () => new Array<number>(count).fill(1 / count));
  for (const [a, b] of pairs) {
    laplacianPlusMean[a][a] += 1;
    laplacianPlusMean[b][b] += 1;
    laplacianPlusMean[a][b] -= 1;
    laplacianPlusMean[b][a] -= 1;
  }
  const pseudoInverse = invert(laplacianPlusMean).map((row) => row.map((value) => value - 1 / count));
  // d_i = Σ_e (L⁺[i][b_e] − L⁺[i][a_e]) m_e
  return pseudoInverse.map((row) => pairs.map(([a, b]) => -count * (row[b] - row[a])));
}
