import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../runtime/errors.js';
import { datasetRoots } from './bids.js';
import { readTsv } from './tsv.js';

/** A segmentation lookup table (BIDS dseg.tsv: columns index and name). */
export type LabelTable = Map<number, string>;

export async function readLabelTable(path: string): Promise<LabelTable> {
  const rows = await readTsv(path);
  const table: LabelTable = new Map();
  rows.forEach((row, n) => {
    const index = Number(row.index);
    if (row.index === undefined || row.name === undefined)
      throw new InputError(path, 'needs the columns index and name');
    if (!Number.isInteger(index) || index < 0)
      throw new InputError(path, `line ${n + 2}: index ${JSON.stringify(row.index)} is not a non-negative integer`);
    table.set(index, row.name);
  });
  return table;
}

/** The dseg.tsv next to a folder of label maps: in the folder, or at the root of the derivative above it. */
export function findLabelTable(folder: string, labelFiles: string[]): string | undefined {
  const candidates = datasetRoots(folder);
  for (const file of labelFiles.slice(0, 1)) {
    const marker = '/derivatives/';
    const at = file.lastIndexOf(marker);
    if (at >= 0) candidates.push(file.slice(0, file.indexOf('/', at + marker.length)));
  }
  return candidates.map((c) => join(c, 'dseg.tsv')).find((p) => existsSync(p));
}

const SIDE = /^(left|right)([-_ ].+)$/i;

/**
 * Label value → the value of the same structure on the other side, from FreeSurfer-style names
 * (Left-Caudate ↔ Right-Caudate); every other label maps to itself.
 */
export function sideSwap(table: LabelTable, classes: number): Int32Array {
  const swap = Int32Array.from({ length: classes }, (_, i) => i);
  const byName = new Map([...table].map(([index, name]) => [name.toLowerCase(), index]));
  for (const [index, name] of table) {
    const match = SIDE.exec(name);
    if (!match || index >= classes) continue;
    const other = byName.get(`${match[1].toLowerCase() === 'left' ? 'right' : 'left'}${match[2]}`.toLowerCase());
    if (other !== undefined && other < classes) swap[index] = other;
  }
  return swap;
}
