import type { Vec3 } from '../io/affine.js';
import type { VoxelArray } from '../io/volume.js';

/** Offsets of the 26 neighbours of a voxel (face, edge and corner), as [dx, dy, dz]. */
const NEIGHBOURS: Vec3[] = [];
for (let dz = -1; dz <= 1; dz++)
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) if (dx !== 0 || dy !== 0 || dz !== 0) NEIGHBOURS.push([dx, dy, dz]);

/**
 * Keeps, for each of `classes`, only its largest connected region (26-connected, as MONAI's
 * KeepLargestConnectedComponent); the voxels of its other regions become background (0), as in
 * nnU-Net's and MONAI's post-processing. Ties keep the region met first in voxel order. In place;
 * returns the number of voxels set to background per class.
 */
export function keepLargestComponents(labels: VoxelArray, shape: Vec3, classes: Iterable<number>): Map<number, number> {
  const [nx, ny, nz] = shape;
  const selected = new Set(classes);
  const region = new Int32Array(labels.length).fill(-1);
  const sizes: number[] = [];
  const largest = new Map<number, number>();
  const stack = new Int32Array(labels.length);
  for (let start = 0; start < labels.length; start++) {
    const label = labels[start];
    if (region[start] !== -1 || !selected.has(label)) continue;
    const id = sizes.length;
    let size = 0;
    let top = 0;
    stack[top++] = start;
    region[start] = id;
    while (top > 0) {
      const v = stack[--top];
      size++;
      const x = v % nx;
      const y = Math.floor(v / nx) % ny;
      const z = Math.floor(v / (nx * ny));
      for (const [dx, dy, dz] of NEIGHBOURS) {
        const xx = x + dx;
        const yy = y + dy;
        const zz = z + dz;
        if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
        const w = xx + nx * (yy + ny * zz);
        if (region[w] === -1 && labels[w] === label) {
          region[w] = id;
          stack[top++] = w;
        }
      }
    }
    sizes.push(size);
    const best = largest.get(label);
    if (best === undefined || size > sizes[best]) largest.set(label, id);
  }
  const removed = new Map<number, number>();
  for (let v = 0; v < labels.length; v++) {
    const id = region[v];
    if (id === -1 || largest.get(labels[v]) === id) continue;
    removed.set(labels[v], (removed.get(labels[v]) ?? 0) + 1);
    labels[v] = 0;
  }
  return removed;
}
