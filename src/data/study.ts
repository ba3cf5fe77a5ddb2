import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Vec3 } from '../io/affine.js';
import { bidsEntitiesOf, listNiftiFiles, readSessionAges, siblingImage } from '../io/bids.js';
import { readLabelTable, type LabelTable } from '../io/labels.js';
import { readNifti } from '../io/nifti.js';
import { toClosestCanonical } from '../io/orientation.js';
import { readTsv } from '../io/tsv.js';
import { cropOrPad, sameGrid, spatialShape, type Volume } from '../io/volume.js';
import { InputError } from '../runtime/errors.js';
import { normaliseMinPercentile } from './intensity.js';

/** Where one session's files are. */
export interface SessionFiles {
  subject: string;
  session: string;
  /** One image per modality, in channel order. */
  images: string[];
  label?: string;
  /** Years, when known. */
  age?: number;
}

/** A session ready for training: closest-RAS voxel order, normalised, zero-padded to the network multiple. */
export interface Session {
  subject: string;
  session: string;
  /** One normalised channel per modality, x fastest. */
  channels: Float32Array[];
  label?: Uint8Array | Int32Array;
  /** The label map's file, when there is one. */
  labelFile?: string;
  shape: Vec3;
  age?: number;
}

export interface Subject {
  id: string;
  sessions: Session[];
}

export interface StudyOptions {
  modalities: string[];
  /** The label derivative: the dseg maps under derivatives/<labels>/, named like the images. */
  labels: string;
  classes: number;
  /** Grids are padded to a multiple of this (2^depth). */
  multiple: number;
  upperPercentile: number;
  /** Replace NaN and infinite image voxels with 0 instead of refusing the image. */
  nanToNum?: boolean;
}

/**
 * The sessions of a registered BIDS tree (preprocess output, or synth's registered/), or of a TSV
 * manifest with columns subject, session, image (one per modality: image, image_T2w, …), label, age.
 */
export async function findSessions(
  data: string,
  options: Pick<StudyOptions, 'modalities' | 'labels'>,
): Promise<{ sessions: SessionFiles[]; labelTable?: LabelTable }> {
  if (!existsSync(data)) throw new InputError(data, 'no such file or folder');
  if (!statSync(data).isDirectory()) return { sessions: await readManifest(data, options.modalities) };
  const all = await listNiftiFiles(data);
  const labelRoot = join(data, 'derivatives', options.labels);
  const labels = new Map<string, string>();
  for (const file of all.filter((f) => f.startsWith(labelRoot + sep))) {
    const { subject, session, suffix } = bidsEntitiesOf(file);
    if (!subject || suffix !== 'dseg') continue;
    const key = `${subject}/${session ?? ''}`;
    refuseDuplicate(labels.get(key), file, subject, session, 'label map');
    labels.set(key, file);
  }
  const sessions: SessionFiles[] = [];
  const seen = new Map<string, string>();
  for (const file of all) {
    if (relative(data, file).split(sep).includes('derivatives')) continue;
    const { subject, session, suffix } = bidsEntitiesOf(file);
    if (!subject || suffix !== options.modalities[0]) continue;
    const key = `${subject}/${session ?? ''}`;
    refuseDuplicate(seen.get(key), file, subject, session, `${suffix} image`);
    seen.set(key, file);
    const images = [file];
    for (const modality of options.modalities.slice(1)) {
      const other = siblingImage(file, options.modalities[0], modality);
      if (!other)
        throw new InputError(
          file,
          `has no ${modality} image next to it; every session needs ${options.modalities.join(' + ')}`,
        );
      images.push(other);
    }
    sessions.push({ subject, session: session ?? '', images, label: labels.get(key) });
  }
  if (sessions.length === 0)
    throw new InputError(data, `holds no BIDS images sub-*_${options.modalities[0]}.nii.gz outside derivatives/`);
  for (const subject of new Set(sessions.map((s) => s.subject))) {
    const ages = await readSessionAges(subject, [data]);
    for (const s of sessions.filter((x) => x.subject === subject)) s.age = ages?.ages.get(s.session);
  }
  const tablePath = join(labelRoot, 'dseg.tsv');
  return { sessions, labelTable: existsSync(tablePath) ? await readLabelTable(tablePath) : undefined };
}

/** Two files for one session (a second copy of the study below the folder, or two runs) are an error naming both. */
function refuseDuplicate(
  first: string | undefined,
  second: string,
  subject: string,
  session: string | undefined,
  what: string,
): void {
  if (!first) return;
  throw new InputError(
    second,
    `is a second ${what} of sub-${subject}${session ? ` ses-${session}` : ''} (the first: ${first}); point --data at one BIDS tree, with one ${what} per session`,
  );
}

async function readManifest(path: string, modalities: string[]): Promise<SessionFiles[]> {
  const rows = await readTsv(path);
  const columns = ['image', ...modalities.slice(1).map((m) => `image_${m}`)];
  return rows.map((row, n) => {
    for (const column of ['subject', 'session', ...columns]) {
      if (!row[column])
        throw new InputError(
          path,
          `line ${n + 2}: no ${column} (columns: subject, session, ${columns.join(', ')}, label, age)`,
        );
    }
    const at = (file: string) => resolve(dirname(path), file);
    const age = Number.parseFloat(row.age ?? '');
    return {
      subject: row.subject.replace(/^sub-/, ''),
      session: row.session.replace(/^ses-/, ''),
      images: columns.map((column) => at(row[column])),
      label: row.label ? at(row.label) : undefined,
      age: Number.isFinite(age) ? age : undefined,
    };
  });
}

/** Reads every session; a subject's sessions must share one grid (they are registered). */
export async function loadSubjects(
  files: SessionFiles[],
  options: StudyOptions,
  onWarning: (message: string) => void = () => {},
): Promise<Subject[]> {
  const bySubject = new Map<string, SessionFiles[]>();
  for (const file of files) bySubject.set(file.subject, [...(bySubject.get(file.subject) ?? []), file]);
  const subjects: Subject[] = [];
  for (const [id, list] of [...bySubject].sort(([a], [b]) => (a < b ? -1 : 1))) {
    list.sort((a, b) => (a.age ?? 0) - (b.age ?? 0) || (a.session < b.session ? -1 : 1));
    const sessions: Session[] = [];
    let first: Volume | undefined;
    for (const file of list) {
      const images: Volume[] = [];
      for (const path of file.images) {
        const image = await readNifti(path, { kind: 'image', require3D: true, nanToNum: options.nanToNum, onWarning });
        if (first && !sameGrid(first, image)) {
          throw new InputError(
            path,
            `is not on the grid of ${list[0].images[0]} (${image.shape.join('×')} vs ${first.shape.join('×')}): the sessions of a subject must be registered to one space first (longiseg preprocess)`,
          );
        }
        first ??= image;
        images.push(image);
      }
      let label: Volume | undefined;
      if (file.label) {
        label = await readNifti(file.label, { kind: 'label', require3D: true });
        if (!sameGrid(first!, label))
          throw new InputError(file.label, `is not on the grid of its image ${file.images[0]}`);
        let [min, max] = [0, 0];
        for (const value of label.data) [min, max] = [Math.min(min, value), Math.max(max, value)];
        if (max >= options.classes || min < 0)
          throw new InputError(
            file.label,
            `holds label ${max >= options.classes ? max : min}, outside 0…${options.classes - 1} (the model has ${options.classes} classes: set classes in the config)`,
          );
      }
      sessions.push(prepareSession(file, images, label, options));
    }
    subjects.push({ id, sessions });
  }
  return subjects;
}

function prepareSession(
  file: SessionFiles,
  images: Volume[],
  label: Volume | undefined,
  options: StudyOptions,
): Session {
  const canonical = images.map((image) => toClosestCanonical(image).volume);
  const shape = spatialShape(canonical[0]);
  const padded = shape.map((n) => Math.ceil(n / options.multiple) * options.multiple) as Vec3;
  const before = shape.map((n, axis) => -Math.floor((padded[axis] - n) / 2)) as Vec3;
  const channels = canonical.map((volume) => {
    const normalised = { ...volume, data: normaliseMinPercentile(volume.data, options.upperPercentile) };
    return cropOrPad(normalised, before, padded).data;
  });
  const labelData = label ? cropOrPad(toClosestCanonical(label).volume, before, padded).data : undefined;
  return {
    subject: file.subject,
    session: file.session,
    channels: channels.map((channel) => shared(Float32Array, channel)),
    label: labelData
      ? labelData instanceof Uint8Array
        ? shared(Uint8Array, labelData)
        : shared(Int32Array, labelData)
      : undefined,
    labelFile: file.label,
    shape: padded,
    age: file.age,
  };
}

/** A copy in a SharedArrayBuffer: the data worker of a training run reads it without copying it again. */
function shared<T extends Float32Array | Uint8Array | Int32Array>(
  kind: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  values: ArrayLike<number>,
): T {
  const array = new kind(new SharedArrayBuffer(values.length * kind.BYTES_PER_ELEMENT));
  array.set(values);
  return array;
}
