import type { Volume } from '../io/volume.js';
import { composeMatches } from '../registration/midpoint.js';

/**
 * Which ordered pairs of a subject's sessions are registered deformably.
 * - 'all': every ordered pair, N(N − 1) registrations.
 * - 'cycle': each session with its neighbours in time, and the last with the first, both ways: 2N
 *   registrations (N(N − 1) for N ≤ 3). The matches between the other sessions are composed along
 *   the cycle. Neighbours in time are also the pairs whose contrast differs least.
 */
export const SESSION_PAIRS = ['cycle', 'all'] as const;
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
      const steps = (moving - fixed + count) % count;
      if (steps !== 0 && (scheme === 'all' || steps === 1 || steps === count - 1)) pairs.push([fixed, moving]);
    }
  }
  return pairs;
}

/**
 * The sum over the other sessions of the matches of the session at time position `position`, each
 * composed along both ways round the cycle from the registered neighbour matches `edge(from, to)`
 * (positions). A way of L steps weighs (N − L)/N, so the two ways to a session sum to one and the
 * shorter, less drifted one counts more: a direct neighbour weighs (N − 1)/N.
 */
export function cycleMatchSum(
  position: number,
  count: number,
  edge: (from: number, to: number) => Volume,
): Float32Array {
  const sum = new Float32Array(edge(position, (position + 1) % count).data.length);
  for (const direction of [1, -1]) {
    let from = position;
    let composed: Volume | undefined;
    for (let steps = 1; steps < count; steps++) {
      const to = (from + direction + count) % count;
      composed = composed ? composeMatches(composed, edge(from, to)) : edge(from, to);
      const weight = (count - steps) / count;
      for (let v = 0; v < sum.length; v++) sum[v] += weight * composed.data[v];
      from = to;
    }
  }
  return sum;
}
