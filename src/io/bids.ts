import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { InputError } from '../runtime/errors.js';
import { readTsv } from './tsv.js';

export interface BidsEntities {
  subject?: string;
  session?: string;
  suffix: string;
  /** Why the name breaks the BIDS entity rules, when it does. */
  problem?: string;
}

const NIFTI_EXTENSION = /\.nii(\.gz)?$/;

export function isNiftiPath(path: string): boolean {
  return NIFTI_EXTENSION.test(path);
}

export function stripNiftiExtension(name: string): string {
  return name.replace(NIFTI_EXTENSION, '');
}

const ENTITY = /^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$/;

/**
 * Entities of a BIDS file name, by the BIDS rules: key-label pairs joined by `_`, labels of letters
 * and digits, the suffix last. sub-01_ses-02_desc-x_dseg.nii.gz → { subject '01', session '02',
 * suffix 'dseg' }. A part that is not key-label (sub-pat-01) leaves the entities out and says why.
 */
export function parseBidsName(path: string): BidsEntities {
  const parts = stripNiftiExtension(basename(path)).split('_');
  const entities: BidsEntities = { suffix: parts.length > 1 ? parts[parts.length - 1] : '' };
  for (const part of parts.length > 1 ? parts.slice(0, -1) : parts.filter((part) => part.includes('-'))) {
    const match = ENTITY.exec(part);
    if (!match) {
      entities.problem ??= `"${part}" is not a BIDS entity (key-label, the label of letters and digits only)`;
      continue;
    }
    if (match[1] === 'sub') entities.subject = match[2];
    if (match[1] === 'ses') entities.session = match[2];
  }
  if (entities.problem) return { suffix: entities.suffix, problem: entities.problem };
  return entities;
}

/** Why a name that starts as BIDS (sub-…) breaks the entity rules, when it does. */
export function bidsNameProblem(path: string): string | undefined {
  const { problem } = parseBidsName(path);
  return problem && basename(path).startsWith('sub-') ? `is not a valid BIDS name: ${problem}` : undefined;
}

/** The entities of a file found in a BIDS tree; a broken BIDS name is refused rather than read as another subject. */
export function bidsEntitiesOf(path: string): BidsEntities {
  const problem = bidsNameProblem(path);
  if (problem) throw new InputError(path, problem);
  return parseBidsName(path);
}

/** The stem of a BIDS image without its suffix: …/sub-01_ses-01_T1w.nii.gz, T1w → sub-01_ses-01. */
export function bidsStem(file: string, suffix: string): string {
  return stripNiftiExtension(basename(file)).replace(new RegExp(`_${suffix}$`), '');
}

/** The image of another modality next to a BIDS image (sub-01_ses-01_T1w.nii.gz → sub-01_ses-01_T2w.nii[.gz]), when it exists. */
export function siblingImage(file: string, suffix: string, other: string): string | undefined {
  const stem = join(dirname(file), `${bidsStem(file, suffix)}_${other}`);
  return [`${stem}.nii.gz`, `${stem}.nii`].find((path) => existsSync(path));
}

/** Every NIfTI file below `folder`, as sorted paths; skips hidden files (among them unfinished temporaries). */
export async function listNiftiFiles(folder: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(folder, { recursive: true, withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      folder,
      code === 'ENOENT'
        ? 'no such folder'
        : code === 'ENOTDIR'
          ? 'is a file, not a folder'
          : `cannot be read (${code})`,
    );
  }
  return entries
    .filter((entry) => entry.isFile() && isNiftiPath(entry.name) && !entry.name.startsWith('.'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * Folders where a study's per-subject tables may live: the folder itself and, for a folder inside
 * `derivatives/`, the raw dataset root above it.
 */
export function datasetRoots(folder: string): string[] {
  const roots = [folder];
  const marker = `${sep}derivatives${sep}`;
  const at = `${folder}${sep}`.lastIndexOf(marker);
  if (at > 0) roots.push(folder.slice(0, at));
  return roots;
}

/**
 * Age in years of each session of a subject, from sub-<label>/sub-<label>_sessions.tsv: column
 * `age` (years), else `age_months`, else `acq_time` (years since the first session).
 * Returns undefined when no table is found under `roots`.
 */
export async function readSessionAges(
  subject: string,
  roots: string[],
): Promise<{ path: string; ages: Map<string, number> } | undefined> {
  const path = roots
    .map((root) => join(root, `sub-${subject}`, `sub-${subject}_sessions.tsv`))
    .find((p) => existsSync(p));
  if (!path) return undefined;
  const rows = await readTsv(path);
  const ages = new Map<string, number>();
  const first = rows
    .map((r) => Date.parse(r.acq_time ?? ''))
    .filter(Number.isFinite)
    .reduce((a, b) => Math.min(a, b), Infinity);
  for (const row of rows) {
    const session = (row.session_id ?? '').replace(/^ses-/, '');
    const years = Number.parseFloat(row.age ?? '');
    const months = Number.parseFloat(row.age_months ?? '');
    const acquired = Date.parse(row.acq_time ?? '');
    if (Number.isFinite(years)) ages.set(session, years);
    else if (Number.isFinite(months)) ages.set(session, months / 12);
    else if (Number.isFinite(acquired)) ages.set(session, (acquired - first) / (365.25 * 24 * 3600 * 1000));
  }
  return { path, ages };
}
