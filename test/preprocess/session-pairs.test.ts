import { createVolume, type Volume } from '../../src/io/volume.js';
import { cycleMatchSum, registeredPairs, timeOrder } from '../../src/preprocess/session-pairs.js';

const shape = [12, 10, 8];
const voxels = 12 * 10 * 8;
const affine = [
  [2, 0, 0, -11],
  [0, 2, 0, -9],
  [0, 0, 2, -7],
  [0, 0, 0, 1],
];

/** Matches that shift every point by `shift` (mm). */
function shiftBy(shift: number[]): Volume {
  const data = new Float32Array(3 * voxels);
  for (let c = 0; c < 3; c++) data.fill(shift[c], c * voxels, (c + 1) * voxels);
  return createVolume(data, [...shape, 3], affine);
}

/** The shift of a sum of constant matches at the centre, where the composed shifts stay on the grid. */
const centre = 6 + 12 * (5 + 10 * 4);
const shiftOf = (sum: Float32Array) => [0, 1, 2].map((c) => sum[centre + c * voxels]);

describe('registered pairs of sessions', () => {
  test('cycle: neighbours in time and the last with the first, both ways; all: every ordered pair', () => {
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

describe('matches composed around the cycle', () => {
  test('consistent matches (session k shifted by t_k) give what every pair registered gives: Σ_j (t_j − t_i)', () => {
    const t = [
      [0, 0, 0],
      [1.5, -0.5, 0.25],
      [-2, 1, 0.5],
      [0.5, 2, -1],
      [3, -1, 1],
    ];
    const edge = (from: number, to: number) => shiftBy([0, 1, 2].map((c) => t[to][c] - t[from][c]));
    for (let i = 0; i < t.length; i++) {
      const expected = [0, 1, 2].map((c) => t.reduce((sum, tj) => sum + tj[c] - t[i][c], 0));
      shiftOf(cycleMatchSum(i, t.length, edge)).forEach((value, c) => expect(value).toBeCloseTo(expected[c], 5));
    }
  });

  test('a loop that does not close: the error of one neighbour pair spreads by path length, (N − L)/N', () => {
    // four sessions, all matches 0 but session 0 → 1 shifted by c: the way round from 0 passes that
    // pair on its first step, so sessions 1, 2, 3 (L = 1, 2, 3) see c with weights 3/4, 2/4, 1/4
    const c = [2, -4, 1];
    const edge = (from: number, to: number) => shiftBy(from === 0 && to === 1 ? c : [0, 0, 0]);
    shiftOf(cycleMatchSum(0, 4, edge)).forEach((value, k) => expect(value).toBeCloseTo(1.5 * c[k], 5));
    // from session 3, only the way 3 → 0 → 1 → 2 passes it (at step 2): sessions 1 and 2 at weights 2/4 and 1/4
    shiftOf(cycleMatchSum(3, 4, edge)).forEach((value, k) => expect(value).toBeCloseTo(0.75 * c[k], 5));
  });
});
