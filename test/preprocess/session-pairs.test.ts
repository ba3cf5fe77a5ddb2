import {
  matchSumCoefficients,
  registeredPairs,
  timeOrder,
  type SessionPairs,
} from '../../src/preprocess/session-pairs.js';

describe('registered pairs of sessions', () => {
  test('cycle: neighbours in time and the last with the first, both ways; neighbours: without the last with the first; all: every ordered pair', () => {
    expect(registeredPairs(4, 'cycle')).toEqual([
      [0, 1],
      [0, 3],
      [1, 0],
      [1, 2],
      [2, 1],
      [2, 3],
      [3, 0],
      [3, 2],
    ]);
    expect([1, 2, 3, 4, 8, 10].map((n) => registeredPairs(n, 'cycle').length)).toEqual([0, 2, 6, 8, 16, 20]);
    expect(registeredPairs(4, 'neighbours')).toEqual([
      [0, 1],
      [1, 0],
      [1, 2],
      [2, 1],
      [2, 3],
      [3, 2],
    ]);
    expect([1, 2, 3, 4, 8, 10].map((n) => registeredPairs(n, 'all').length)).toEqual([0, 2, 6, 12, 56, 90]);
  });

  test('time order: by age where every session has one, else by session label in numeric order', () => {
    const sessions = [
      { session: '10', age: 0.5 },
      { session: '2', age: 3 },
      { session: '1', age: 1.5 },
    ];
    expect(timeOrder(sessions)).toEqual([0, 2, 1]);
    expect(timeOrder(sessions.map((s, i) => (i === 1 ? { session: s.session } : s)))).toEqual([2, 1, 0]);
  });
});

describe("every session's matches from the cycle's pairs", () => {
  /** Σ_e c[i][e] m_e for every session, m_e the matches of each pair as given by `match`. */
  const sums = (count: number, match: (from: number, to: number) => number, scheme: SessionPairs = 'cycle') => {
    const pairs = registeredPairs(count, scheme);
    return matchSumCoefficients(count, pairs).map((row) => row.reduce((sum, c, e) => sum + c * match(...pairs[e]), 0));
  };

  test('consistent matches (session k shifted by t_k) give what every pair registered gives: Σ_j (t_j − t_i)', () => {
    const t = [0, 1.5, -2, 0.5, 3, -1];
    sums(t.length, (from, to) => t[to] - t[from]).forEach((sum, i) =>
      expect(sum).toBeCloseTo(
        t.reduce((total, tj) => total + tj - t[i], 0),
        9,
      ),
    );
  });

  test('a loop that does not close: the least-squares offsets spread the error of one pair round the cycle', () => {
    // four sessions, every match 0 but session 0 → 1 shifted by c (1 → 0 says 0): solving
    // 2(2d₀ − d₁ − d₃) = −c, 2(2d₁ − d₀ − d₂) = c, … with Σd = 0 gives d = (−3, 3, 1, −1)·c/16, and
    // Σ_j m_ij = −4d_i
    const c = 2;
    const expected = [0.75, -0.75, -0.25, 0.25].map((k) => k * c);
    sums(4, (from, to) => (from === 0 && to === 1 ? c : 0)).forEach((sum, i) =>
      expect(sum).toBeCloseTo(expected[i], 9),
    );
  });
});
