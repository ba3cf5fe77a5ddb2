import { readFileSync } from 'node:fs';
import type { Vec3 } from '../../src/io/affine.js';
import { keepLargestComponents } from '../../src/infer/largest-component.js';
import { fixture } from '../helpers.js';

const reference = JSON.parse(readFileSync(fixture('infer', 'reference.json'), 'utf8'));

describe('keepLargestComponents', () => {
  for (const c of reference.largest_component as {
    shape: Vec3;
    classes: number[];
    labels: number[];
    kept: number[];
  }[]) {
    test(`matches scipy.ndimage.label on ${c.shape.join('×')} smoothed noise`, () => {
      const labels = Int32Array.from(c.labels);
      const removed = keepLargestComponents(labels, c.shape, c.classes);
      expect([...labels]).toEqual(c.kept);
      const changed = c.labels.filter((label, v) => label !== c.kept[v]);
      expect([...removed.values()].reduce((a, b) => a + b, 0)).toBe(changed.length);
    });
  }

  test('corner neighbours connect; classes not asked for and other classes stay', () => {
    const shape: Vec3 = [4, 4, 4];
    const labels = new Uint8Array(64);
    const at = (x: number, y: number, z: number) => x + 4 * (y + 4 * z);
    labels[at(0, 0, 0)] = 1;
    labels[at(1, 1, 1)] = 1; // touches the first by a corner: one region of two
    labels[at(3, 3, 3)] = 1; // alone: removed
    labels[at(3, 0, 0)] = 2;
    labels[at(0, 3, 0)] = 2; // class 2 not asked for: both stay
    const removed = keepLargestComponents(labels, shape, [1]);
    expect([labels[at(0, 0, 0)], labels[at(1, 1, 1)], labels[at(3, 3, 3)]]).toEqual([1, 1, 0]);
    expect([labels[at(3, 0, 0)], labels[at(0, 3, 0)]]).toEqual([2, 2]);
    expect(removed).toEqual(new Map([[1, 1]]));
  });
});
