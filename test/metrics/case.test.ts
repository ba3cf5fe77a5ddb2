import { readFileSync } from 'node:fs';
import type { Mat4, Vec3 } from '../../src/io/affine.js';
import { readNifti } from '../../src/io/nifti.js';
import { createVolume, type Volume } from '../../src/io/volume.js';
import { evaluateLabelMaps, type LabelMetrics } from '../../src/metrics/case.js';
import { squaredDistanceTransform } from '../../src/metrics/edt.js';
import { percentile } from '../../src/metrics/surface.js';
import { fixture } from '../helpers.js';

interface Expected {
  tp: number;
  fp: number;
  fn: number;
  dice: number | null;
  iou: number | null;
  hd95: number | null;
  hd100: number | null;
  status: string;
}
const expected = JSON.parse(readFileSync(fixture('metrics', 'expected.json'), 'utf8')) as {
  cases: Record<string, { metrics: Record<string, Expected>; metrics_ignore_1: Record<string, Expected> }>;
};

function grid(shape: Vec3, spacing: Vec3, fill: (i: number, j: number, k: number) => number): Volume {
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let k = 0, n = 0; k < shape[2]; k++)
    for (let j = 0; j < shape[1]; j++) for (let i = 0; i < shape[0]; i++, n++) data[n] = fill(i, j, k);
  const affine: Mat4 = [
    [spacing[0], 0, 0, 0],
    [0, spacing[1], 0, 0],
    [0, 0, spacing[2], 0],
    [0, 0, 0, 1],
  ];
  return createVolume(data, [...shape], affine);
}

function byLabel(results: LabelMetrics[]): Record<string, LabelMetrics> {
  return Object.fromEntries(results.map((r) => [String(r.label), r]));
}

describe('exact Euclidean distance transform', () => {
  test('matches brute force on a random anisotropic box', () => {
    const shape: Vec3 = [13, 9, 11];
    const spacing: Vec3 = [0.7, 1.3, 2.1];
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const features: Vec3[] = [];
    const squared = new Float64Array(13 * 9 * 11).fill(Infinity);
    for (let n = 0; n < 12; n++) {
      const p: Vec3 = [Math.floor(random() * 13), Math.floor(random() * 9), Math.floor(random() * 11)];
      features.push(p);
      squared[p[0] + 13 * (p[1] + 9 * p[2])] = 0;
    }
    squaredDistanceTransform(squared, shape, spacing);
    let worst = 0;
    for (let k = 0, n = 0; k < 11; k++) {
      for (let j = 0; j < 9; j++) {
        for (let i = 0; i < 13; i++, n++) {
          const truth = Math.min(
            ...features.map(
              ([x, y, z]) => ((i - x) * spacing[0]) ** 2 + ((j - y) * spacing[1]) ** 2 + ((k - z) * spacing[2]) ** 2,
            ),
          );
          worst = Math.max(worst, Math.abs(squared[n] - truth));
        }
      }
    }
    expect(worst).toBeLessThan(1e-9);
  });

  test('percentile interpolates linearly between order statistics (numpy default)', () => {
    expect(percentile(Float64Array.of(4, 1, 3, 2), 95)).toBeCloseTo(3.85, 12);
    expect(percentile(Float64Array.of(5), 95)).toBe(5);
    expect(percentile(Float64Array.of(1, 2), 100)).toBe(2);
  });
});

describe('agreement with scipy (fixtures from test/reference/make_metric_fixtures.py)', () => {
  test.each(Object.keys(expected.cases))('%s: Dice, IoU to 1e-6, HD95 and HD100 to 1e-3 mm, statuses', async (name) => {
    const pred = await readNifti(fixture('metrics', 'pred', `${name}.nii.gz`));
    const ref = await readNifti(fixture('metrics', 'ref', `${name}.nii.gz`));
    const want = expected.cases[name];
    const labels = Object.keys(want.metrics).map(Number);
    const got95 = byLabel(evaluateLabelMaps(pred, ref, { labels, hdPercentile: 95 }));
    const got100 = byLabel(evaluateLabelMaps(pred, ref, { labels, hdPercentile: 100 }));
    for (const [label, w] of Object.entries(want.metrics)) {
      const g = got95[label];
      expect([g.tp, g.fp, g.fn]).toEqual([w.tp, w.fp, w.fn]);
      expect(Math.abs(g.dice! - w.dice!)).toBeLessThan(1e-6);
      expect(Math.abs(g.iou! - w.iou!)).toBeLessThan(1e-6);
      expect(g.hdStatus).toBe(w.status);
      if (w.status === 'ok') {
        expect(Math.abs(g.hd! - w.hd95!)).toBeLessThan(1e-3);
        expect(Math.abs(got100[label].hd! - w.hd100!)).toBeLessThan(1e-3);
      } else {
        expect(g.hd).toBeNull();
      }
    }
    const ignoring = byLabel(
      evaluateLabelMaps(pred, ref, { labels: labels.filter((l) => l !== 1), ignoreLabel: 1, hdPercentile: 95 }),
    );
    for (const [label, w] of Object.entries(want.metrics_ignore_1)) {
      expect([ignoring[label].tp, ignoring[label].fp, ignoring[label].fn]).toEqual([w.tp, w.fp, w.fn]);
      if (w.status === 'ok') expect(Math.abs(ignoring[label].hd! - w.hd95!)).toBeLessThan(1e-3);
    }
  });

  test('without a label list, every label present in either map is evaluated', async () => {
    const pred = await readNifti(fixture('metrics', 'pred', 'aniso.nii.gz'));
    const ref = await readNifti(fixture('metrics', 'ref', 'aniso.nii.gz'));
    expect(evaluateLabelMaps(pred, ref, { hdPercentile: 95 }).map((r) => r.label)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('analytic cases', () => {
  test('concentric spheres on an anisotropic grid: HD95 is the radius difference within half a voxel', () => {
    const spacing: Vec3 = [1.0, 1.5, 0.8];
    const shape: Vec3 = [50, 34, 62];
    const centre = shape.map((n, a) => ((n - 1) / 2) * spacing[a]);
    const sphere = (radius: number) => (i: number, j: number, k: number) =>
      Math.hypot(i * spacing[0] - centre[0], j * spacing[1] - centre[1], k * spacing[2] - centre[2]) <= radius ? 1 : 0;
    const [result] = evaluateLabelMaps(grid(shape, spacing, sphere(16)), grid(shape, spacing, sphere(11)), {
      hdPercentile: 95,
    });
    expect(Math.abs(result.hd! - 5)).toBeLessThanOrEqual(0.75);
    const [full] = evaluateLabelMaps(grid(shape, spacing, sphere(16)), grid(shape, spacing, sphere(11)), {
      hdPercentile: 100,
    });
    // The maximum is not smoothed by the percentile: discretisation can cost up to the largest voxel side.
    expect(Math.abs(full.hd! - 5)).toBeLessThanOrEqual(1.5);
  });

  test('a cube shifted by k voxels: Dice (10−k)/10 and Hausdorff k·spacing', () => {
    const spacing: Vec3 = [1.5, 1, 1];
    const cube = (shift: number) => (i: number, j: number, k: number) =>
      i >= 10 + shift && i < 20 + shift && j >= 10 && j < 20 && k >= 10 && k < 20 ? 1 : 0;
    for (const k of [1, 2, 3]) {
      const [result] = evaluateLabelMaps(grid([34, 30, 30], spacing, cube(k)), grid([34, 30, 30], spacing, cube(0)), {
        hdPercentile: 100,
      });
      expect(result.dice).toBeCloseTo((10 - k) / 10, 12);
      expect(result.iou).toBeCloseTo((10 - k) / (10 + k), 12);
      expect(result.hd).toBeCloseTo(k * 1.5, 12);
      expect(result.volPredMm3).toBe(1000 * 1.5);
    }
  });

  test('a mask touching the image border has a surface there', () => {
    const full = grid([6, 6, 6], [1, 1, 1], () => 1);
    const inner = grid([6, 6, 6], [1, 1, 1], (i, j, k) => (Math.min(i, j, k) >= 1 && Math.max(i, j, k) <= 4 ? 1 : 0));
    const [result] = evaluateLabelMaps(full, inner, { hdPercentile: 100 });
    // the outer surface is the image's outermost layer; its corner (0,0,0) is √3 from the inner corner (1,1,1)
    expect(result.hd).toBeCloseTo(Math.sqrt(3), 12);
  });

  test('empty masks of each kind', () => {
    const empty = grid([8, 8, 8], [1, 1, 1], () => 0);
    const blob = grid([8, 8, 8], [1, 1, 1], (i, j, k) => (i > 2 && i < 5 && j > 2 && j < 5 && k > 2 && k < 5 ? 1 : 0));
    const [both] = evaluateLabelMaps(empty, empty, { labels: [1], hdPercentile: 95 });
    expect(both).toMatchObject({ dice: null, iou: null, hd: 0, hdStatus: 'both_empty' });
    const [predEmpty] = evaluateLabelMaps(empty, blob, { labels: [1], hdPercentile: 95 });
    expect(predEmpty).toMatchObject({ dice: 0, iou: 0, hd: null, hdStatus: 'pred_empty', fn: 8 });
    const [refEmpty] = evaluateLabelMaps(blob, empty, { labels: [1], hdPercentile: 95 });
    expect(refEmpty).toMatchObject({ dice: 0, iou: 0, hd: null, hdStatus: 'ref_empty', fp: 8 });
    const [absent] = evaluateLabelMaps(blob, blob, { labels: [7], hdPercentile: 95 });
    expect(absent.hdStatus).toBe('both_empty');
  });
});
