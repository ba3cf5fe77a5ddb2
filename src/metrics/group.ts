import { readNifti } from '../io/nifti.js';
import { resampleToGrid } from '../io/resample.js';
import { sameGrid, type Volume } from '../io/volume.js';
import { maxAbsDifference } from '../io/affine.js';
import { InputError } from '../runtime/errors.js';
import { diagonalMm, evaluateLabelMaps, type CaseOptions, type LabelMetrics } from './case.js';
import { sessionDice } from './longitudinal.js';
import type { CasePair } from './pairing.js';

/** One unit of work: one case, or all sessions of one subject when longitudinal statistics are wanted. */
export interface GroupTask {
  cases: CasePair[];
  longitudinal: boolean;
  options: CaseOptions & { resample: boolean };
}

export interface CaseResult extends CasePair {
  metrics: LabelMetrics[];
  diagonalMm: number;
  resampled: boolean;
}

/** STCS of each label between two sessions, from the predictions and from the references. */
export interface SessionPairResult {
  subject: string;
  sessionA: string;
  sessionB: string;
  stcs: [number, number][];
  stcsRef: [number, number][];
}

export interface GroupResult {
  cases: CaseResult[];
  pairs: SessionPairResult[];
}

async function readLabelMap(path: string): Promise<Volume> {
  const volume = await readNifti(path, { kind: 'label', require3D: true });
  for (let i = 0; i < volume.data.length; i++) {
    if (volume.data[i] < 0)
      throw new InputError(path, `label map holds the negative value ${volume.data[i]}; labels must be >= 0`);
  }
  return volume;
}

function describeGrid(volume: Volume): string {
  return `${volume.shape.join('×')} at ${volume.spacing.map((s) => +s.toFixed(4)).join('×')} mm`;
}

export async function evaluateGroup(task: GroupTask): Promise<GroupResult> {
  const cases: CaseResult[] = [];
  const sessions: { pair: CasePair; pred: Volume; ref: Volume }[] = [];
  for (const pair of task.cases) {
    let pred = await readLabelMap(pair.predFile);
    const ref = await readLabelMap(pair.refFile);
    const matches = sameGrid(pred, ref);
    if (!matches && !task.options.resample) {
      const detail =
        pred.shape.join() !== ref.shape.join()
          ? `${describeGrid(pred)} vs ${describeGrid(ref)}`
          : `affines differ by up to ${maxAbsDifference(pred.affine, ref.affine).toPrecision(3)} mm`;
      throw new InputError(
        pair.predFile,
        `is not on the grid of the reference ${pair.refFile} (${detail}); pass --resample to resample the prediction (nearest neighbour)`,
      );
    }
    if (!matches) pred = resampleToGrid(pred, ref, 'nearest');
    cases.push({
      ...pair,
      metrics: evaluateLabelMaps(pred, ref, task.options),
      diagonalMm: diagonalMm(ref),
      resampled: !matches,
    });
    if (task.longitudinal) sessions.push({ pair, pred, ref });
  }
  const pairs: SessionPairResult[] = [];
  for (let i = 0; i < sessions.length; i++) {
    for (let j = i + 1; j < sessions.length; j++) {
      const a = sessions[i];
      const b = sessions[j];
      if (!sameGrid(a.ref, b.ref)) {
        throw new InputError(
          b.pair.refFile,
          `is not in the space of ${a.pair.refFile} (${describeGrid(b.ref)} vs ${describeGrid(a.ref)}); STCS needs every session of a subject registered into one space (longiseg preprocess)`,
        );
      }
      const ignore = ignoreMask(a.ref, b.ref, task.options.ignoreLabel);
      pairs.push({
        subject: a.pair.subject,
        sessionA: a.pair.session,
        sessionB: b.pair.session,
        stcs: [...sessionDice(a.pred, b.pred, ignore)],
        stcsRef: [...sessionDice(a.ref, b.ref, ignore)],
      });
    }
  }
  return { cases, pairs };
}

function ignoreMask(a: Volume, b: Volume, ignoreLabel: number | undefined): Uint8Array | undefined {
  if (ignoreLabel === undefined) return undefined;
  const mask = new Uint8Array(a.data.length);
  for (let i = 0; i < mask.length; i++) mask[i] = a.data[i] === ignoreLabel || b.data[i] === ignoreLabel ? 1 : 0;
  return mask;
}
