import type { Session } from './study.js';

const classCache = new WeakMap<Session, Map<number, Int32Array>>();
const headCache = new WeakMap<Session, Int32Array>();

/** Voxel indices of each foreground class present in the session's label map, ascending by class; computed once per session. */
export function classLocations(session: Session): Map<number, Int32Array> {
  let locations = classCache.get(session);
  if (!locations) {
    const label = session.label;
    const counts = new Map<number, number>();
    if (label) for (const value of label) if (value > 0) counts.set(value, (counts.get(value) ?? 0) + 1);
    const classes = [...counts.keys()].sort((a, b) => a - b);
    locations = new Map(classes.map((value) => [value, new Int32Array(counts.get(value)!)]));
    const filled = new Map(classes.map((value) => [value, 0]));
    if (label) {
      for (let i = 0; i < label.length; i++) {
        const value = label[i];
        if (value > 0) {
          const at = filled.get(value)!;
          locations.get(value)![at] = i;
          filled.set(value, at + 1);
        }
      }
    }
    classCache.set(session, locations);
  }
  return locations;
}

/**
 * Voxel indices inside the head: where any channel is above its minimum (skull-stripped images are
 * exactly their minimum outside the head); every voxel when there is no such voxel.
 */
export function headLocations(session: Session): Int32Array {
  let locations = headCache.get(session);
  if (!locations) {
    const minima = session.channels.map((channel) => channel.reduce((a, b) => Math.min(a, b), Infinity));
    const inside: number[] = [];
    const voxels = session.channels[0].length;
    for (let i = 0; i < voxels; i++) if (session.channels.some((channel, c) => channel[i] > minima[c])) inside.push(i);
    locations = inside.length > 0 ? Int32Array.from(inside) : Int32Array.from({ length: voxels }, (_, i) => i);
    headCache.set(session, locations);
  }
  return locations;
}
