import type { Volume } from '../io/volume.js';

/**
 * STCS of every label between two sessions' label maps on one grid: the Dice of the label's
 * masks. Voxels where either session's reference holds `ignoreLabel` are left out.
 * Labels absent from both maps are not returned (undefined STCS).
 */
export function sessionDice(
  a: Pick<Volume, 'data'>,
  b: Pick<Volume, 'data'>,
  ignoreMask?: Uint8Array,
): Map<number, number> {
  let maxLabel = 0;
  for (let i = 0; i < a.data.length; i++) maxLabel = Math.max(maxLabel, a.data[i], b.data[i]);
  const countA = new Float64Array(maxLabel + 1);
  const countB = new Float64Array(maxLabel + 1);
  const both = new Float64Array(maxLabel + 1);
  for (let i = 0; i < a.data.length; i++) {
    if (ignoreMask?.[i]) continue;
    const la = a.data[i];
    const lb = b.data[i];
    countA[la]++;
    countB[lb]++;
    if (la === lb) both[la]++;
  }
  const dice = new Map<number, number>();
  for (let label = 1; label <= maxLabel; label++) {
    const total = countA[label] + countB[label];
    if (total > 0) dice.set(label, (2 * both[label]) / total);
  }
  return dice;
}

/** Absolute symmetrised percent change of a volume: 100·|Vb − Va| / ((Va + Vb)/2); null when both are 0. */
export function aspc(volumeA: number, volumeB: number): number | null {
  const mean = 0.5 * (volumeA + volumeB);
  return mean === 0 ? null : (100 * Math.abs(volumeB - volumeA)) / mean;
}
