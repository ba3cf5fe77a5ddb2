import type { Vec3 } from '../io/affine.js';
import type { LabelTable } from '../io/labels.js';
import { splitSubjects, type Split } from '../data/splits.js';
import { findSessions, loadSubjects, type Subject } from '../data/study.js';
import { InputError } from '../runtime/errors.js';
import type { Random } from '../runtime/random.js';
import type { TrainingConfig } from './config.js';

/** The reference's head: 33 classes whatever the labels, when nothing says otherwise. */
export const REFERENCE_CLASSES = 33;

export interface PreparedStudy {
  split: Split;
  train: Subject[];
  validation: Subject[];
  classes: number;
  labelTable?: LabelTable;
}

/** Finds and splits the sessions of config.data and reads the training and validation subjects (not the test ones). */
export async function prepareStudy(
  config: TrainingConfig,
  random: Random,
  onWarning: (message: string) => void,
): Promise<PreparedStudy> {
  const { sessions, labelTable } = await findSessions(config.data, {
    modalities: config.modalities,
    labels: config.labels,
  });
  const classes = config.classes ?? (labelTable ? Math.max(...labelTable.keys()) + 1 : REFERENCE_CLASSES);
  const subjects = [...new Set(sessions.map((s) => s.subject))];
  const { split: s } = config;
  const split = splitSubjects(
    subjects,
    s.validation_subjects || s.test_subjects
      ? { kind: 'lists', validation: s.validation_subjects ?? [], test: s.test_subjects ?? [] }
      : { kind: 'fractions', train: s.train, validation: s.validation, test: s.test },
    random,
  );
  const options = {
    modalities: config.modalities,
    labels: config.labels,
    classes,
    multiple: 2 ** config.model.depth,
    upperPercentile: config.upper_percentile,
    nanToNum: config.nan_to_num,
  };
  const load = (ids: string[]) =>
    loadSubjects(
      sessions.filter((f) => ids.includes(f.subject)),
      options,
      onWarning,
    );
  const [train, validation] = [await load(split.train), await load(split.validation)];
  if (train.length === 0)
    throw new InputError(
      config.data,
      `leaves no training subject after the split (${subjects.length} subjects: ${split.validation.length} validation, ${split.test.length} test)`,
    );
  return { split, train, validation, classes, labelTable };
}

/** Subjects that can give pairs; the others are named in a warning (the reference code hangs on them). */
export function pairableSubjects(subjects: Subject[], data: string, onWarning: (message: string) => void): Subject[] {
  const single = subjects.filter((s) => s.sessions.length < 2);
  if (single.length > 0)
    onWarning(
      `${single.map((s) => `sub-${s.id}`).join(', ')} ${single.length === 1 ? 'has' : 'have'} one session and ${single.length === 1 ? 'is' : 'are'} left out of pair sampling`,
    );
  const pairable = subjects.filter((s) => s.sessions.length >= 2);
  if (pairable.length === 0)
    throw new InputError(
      data,
      'has no training subject with two or more sessions: longitudinal pairs need at least two sessions per subject',
    );
  return pairable;
}

/** Every voxel count and crop for validation: whole volumes, or a centred crop when configured. */
export function validationCrop(shape: Vec3, crop: number | undefined): Vec3 {
  return shape.map((n) => (crop ? Math.min(crop, n) : n)) as Vec3;
}
