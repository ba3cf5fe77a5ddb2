import type { Vec3 } from '../io/affine.js';
import { spatialShape, voxelVolumeMm3, type Volume } from '../io/volume.js';
import { directedDistances, percentile, surfaceVoxels } from './surface.js';

export type HdStatus = 'ok' | 'both_empty' | 'pred_empty' | 'ref_empty';

/** Metrics of one label in one case. null: undefined (see the status fields and docs/metrics.md). */
export interface LabelMetrics {
  label: number;
  dice: number | null;
  iou: number | null;
  /** Percentile Hausdorff distance in mm (HD95 by default); 0 when both masks are empty, null when one is. */
  hd: number | null;
  hdStatus: HdStatus;
  tp: number;
  fp: number;
  fn: number;
  nPred: number;
  nRef: number;
  volPredMm3: number;
  volRefMm3: number;
}

export interface CaseOptions {
  /** Labels to evaluate; undefined means every label > 0 present in either map. */
  labels?: number[];
  /** Voxels where the reference has this value are left out of every metric. */
  ignoreLabel?: number;
  /** Percentile of the directed surface distances (95 gives HD95, 100 the Hausdorff distance). */
  hdPercentile: number;
}

interface LabelCensus {
  maxLabel: number;
  predCount: Float64Array;
  refCount: Float64Array;
  agree: Float64Array;
  /** Per label: min x, y, z, max x, y, z of the union of both masks. */
  boxes: Int32Array;
}

/**
 * Dice, IoU and HD of every label of a prediction against a reference on the same grid. One pass
 * counts voxels and finds each label's bounding box; distances are then computed per label inside
 * the box around both masks only, which gives the same surfaces and distances as the whole volume.
 */
export function evaluateLabelMaps(pred: Volume, ref: Volume, options: CaseOptions): LabelMetrics[] {
  const census = takeCensus(pred, ref, options.ignoreLabel);
  const labels = options.labels ?? presentLabels(census, options.ignoreLabel);
  const voxelMm3 = voxelVolumeMm3(ref);
  return labels.map((label) => {
    const inRange = label <= census.maxLabel;
    const tp = inRange ? census.agree[label] : 0;
    const nPred = inRange ? census.predCount[label] : 0;
    const nRef = inRange ? census.refCount[label] : 0;
    const fp = nPred - tp;
    const fn = nRef - tp;
    const union = tp + fp + fn;
    const { hd, hdStatus } =
      nPred === 0 && nRef === 0
        ? { hd: 0, hdStatus: 'both_empty' as const }
        : nPred === 0
          ? { hd: null, hdStatus: 'pred_empty' as const }
          : nRef === 0
            ? { hd: null, hdStatus: 'ref_empty' as const }
            : {
                hd: labelHausdorff(pred, ref, label, census.boxes.subarray(label * 6, label * 6 + 6), options),
                hdStatus: 'ok' as const,
              };
    return {
      label,
      dice: union === 0 ? null : (2 * tp) / (2 * tp + fp + fn),
      iou: union === 0 ? null : tp / union,
      hd,
      hdStatus,
      tp,
      fp,
      fn,
      nPred,
      nRef,
      volPredMm3: nPred * voxelMm3,
      volRefMm3: nRef * voxelMm3,
    };
  });
}

function takeCensus(pred: Volume, ref: Volume, ignoreLabel: number | undefined): LabelCensus {
  const [nx, ny, nz] = spatialShape(ref);
  const p = pred.data;
  const r = ref.data;
  let maxLabel = 0;
  for (let i = 0; i < r.length; i++) {
    if (r[i] > maxLabel) maxLabel = r[i];
    if (p[i] > maxLabel) maxLabel = p[i];
  }
  const predCount = new Float64Array(maxLabel + 1);
  const refCount = new Float64Array(maxLabel + 1);
  const agree = new Float64Array(maxLabel + 1);
  const boxes = new Int32Array((maxLabel + 1) * 6);
  for (let l = 0; l <= maxLabel; l++) boxes.set([nx, ny, nz, -1, -1, -1], l * 6);
  const ignore = ignoreLabel ?? -1;
  const grow = (label: number, i: number, j: number, k: number) => {
    const b = label * 6;
    if (i < boxes[b]) boxes[b] = i;
    if (i > boxes[b + 3]) boxes[b + 3] = i;
    if (j < boxes[b + 1]) boxes[b + 1] = j;
    if (j > boxes[b + 4]) boxes[b + 4] = j;
    if (k < boxes[b + 2]) boxes[b + 2] = k;
    if (k > boxes[b + 5]) boxes[b + 5] = k;
  };
  for (let k = 0, index = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, index++) {
        const rv = r[index];
        if (rv === ignore) continue;
        const pv = p[index];
        refCount[rv]++;
        predCount[pv]++;
        if (pv === rv) agree[pv]++;
        if (rv > 0) grow(rv, i, j, k);
        if (pv > 0 && pv !== rv) grow(pv, i, j, k);
      }
    }
  }
  return { maxLabel, predCount, refCount, agree, boxes };
}

function presentLabels(census: LabelCensus, ignoreLabel: number | undefined): number[] {
  const labels: number[] = [];
  for (let l = 1; l <= census.maxLabel; l++) {
    if (l !== ignoreLabel && (census.predCount[l] > 0 || census.refCount[l] > 0)) labels.push(l);
  }
  return labels;
}

const PRED_BIT = 1;
const REF_BIT = 2;

function labelHausdorff(pred: Volume, ref: Volume, label: number, box: Int32Array, options: CaseOptions): number {
  const [nx, ny] = spatialShape(ref);
  const origin: Vec3 = [box[0], box[1], box[2]];
  const shape: Vec3 = [box[3] - box[0] + 1, box[4] - box[1] + 1, box[5] - box[2] + 1];
  const codes = new Uint8Array(shape[0] * shape[1] * shape[2]);
  const ignore = options.ignoreLabel ?? -1;
  for (let k = 0, index = 0; k < shape[2]; k++) {
    for (let j = 0; j < shape[1]; j++) {
      let source = origin[0] + nx * (origin[1] + j + ny * (origin[2] + k));
      for (let i = 0; i < shape[0]; i++, index++, source++) {
        const rv = ref.data[source];
        if (rv === ignore) continue;
        codes[index] = (pred.data[source] === label ? PRED_BIT : 0) | (rv === label ? REF_BIT : 0);
      }
    }
  }
  const predSurface = surfaceVoxels(codes, shape, PRED_BIT);
  const refSurface = surfaceVoxels(codes, shape, REF_BIT);
  const predToRef = directedDistances(predSurface, refSurface, shape, ref.spacing);
  const refToPred = directedDistances(refSurface, predSurface, shape, ref.spacing);
  return Math.max(percentile(predToRef, options.hdPercentile), percentile(refToPred, options.hdPercentile));
}

/** Length of the reference volume's diagonal in mm: the HD charged in means when one mask is empty. */
export function diagonalMm(ref: Pick<Volume, 'shape' | 'spacing'>): number {
  return Math.hypot(ref.shape[0] * ref.spacing[0], ref.shape[1] * ref.spacing[1], ref.shape[2] * ref.spacing[2]);
}
