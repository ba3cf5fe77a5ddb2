import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import {
  bidsNameProblem,
  bidsStem,
  listNiftiFiles,
  parseBidsName,
  siblingImage,
  stripNiftiExtension,
} from '../io/bids.js';
import { InputError, UsageError } from '../runtime/errors.js';
import type { PredictionCase } from './predict-case.js';

/** A case that cannot be predicted as given (a missing channel); reported, the others go on. */
export interface CaseProblem {
  id: string;
  file: string;
  problem: string;
}

export interface CaseList {
  cases: PredictionCase[];
  problems: CaseProblem[];
  /** Whether any input was a BIDS tree (the output is then a BIDS derivative). */
  bids: boolean;
}

/**
 * The cases of the inputs (folders or files), with their output paths under `out`:
 * - BIDS folders: every sub-*_<first modality> image outside derivatives/, the other channels
 *   found next to it by suffix; output <entities>_dseg.nii.gz at the same relative place;
 * - other folders and files: nnU-Net naming, channel k of case X in X_000k.nii.gz (a one-channel
 *   model also takes plain X.nii.gz); output X.nii.gz.
 */
export async function listCases(
  inputs: string[],
  out: string,
  modalities: string[],
  probabilities: boolean,
): Promise<CaseList> {
  const list: CaseList = { cases: [], problems: [], bids: false };
  for (const input of inputs) {
    if (!existsSync(input)) throw new InputError(input, 'no such file or folder');
    const folder = statSync(input).isDirectory();
    const found = folder
      ? (await listNiftiFiles(input)).filter((file) => !relative(input, file).split(sep).includes('derivatives'))
      : [input];
    const root = folder ? input : dirname(input);
    if (found.length === 0) throw new InputError(input, 'holds no NIfTI images (.nii, .nii.gz)');
    // a name that starts as BIDS but breaks its rules (sub-pat-01) is reported, not guessed at
    const files = found.filter((file) => {
      const problem = bidsNameProblem(file);
      if (problem) list.problems.push({ id: stripNiftiExtension(basename(file)), file, problem });
      return !problem;
    });
    const bidsImages = files.filter((file) => isBidsImage(file, modalities[0]));
    if (bidsImages.length > 0) {
      list.bids = true;
      for (const file of bidsImages) addBidsCase(list, file, root, out, modalities, probabilities);
    } else {
      addFlatCases(list, files, root, out, modalities.length, probabilities);
    }
  }
  checkOutputs(list.cases);
  return list;
}

function isBidsImage(file: string, modality: string): boolean {
  const entities = parseBidsName(file);
  return entities.subject !== undefined && entities.suffix === modality;
}

function addBidsCase(
  list: CaseList,
  file: string,
  root: string,
  out: string,
  modalities: string[],
  probabilities: boolean,
): void {
  const stem = bidsStem(file, modalities[0]);
  const channels: string[] = [file];
  for (const modality of modalities.slice(1)) {
    const found = siblingImage(file, modalities[0], modality);
    if (!found) {
      list.problems.push({
        id: stem,
        file,
        problem: `has no ${modality} image next to it (${join(dirname(file), `${stem}_${modality}.nii.gz`)}); the model takes ${modalities.join(' + ')}`,
      });
      return;
    }
    channels.push(found);
  }
  const target = join(out, subjectRelativeFolder(file) ?? relative(root, dirname(file)), stem);
  list.cases.push({
    id: stem,
    channels,
    output: `${target}_dseg.nii.gz`,
    probabilities: probabilities ? `${target}_probseg.nii.gz` : undefined,
  });
}

/** The image's folder from its sub-<label> folder on (sub-01/ses-01/anat), so that a subject folder given as input keeps the BIDS layout. */
function subjectRelativeFolder(file: string): string | undefined {
  const parts = dirname(resolve(file)).split(sep);
  const index = parts.findIndex((part) => /^sub-[a-zA-Z0-9]+$/.test(part));
  return index >= 0 ? parts.slice(index).join(sep) : undefined;
}

const CHANNEL_SUFFIX = /_(\d{4})$/;

function addFlatCases(
  list: CaseList,
  files: string[],
  root: string,
  out: string,
  channelCount: number,
  probabilities: boolean,
): void {
  const byCase = new Map<string, Map<number, string>>();
  for (const file of files) {
    const stem = stripNiftiExtension(relative(root, file));
    const match = CHANNEL_SUFFIX.exec(stem);
    if (!match && channelCount > 1) {
      list.problems.push({
        id: stem,
        file,
        problem: `has no channel suffix (_0000 … _${String(channelCount - 1).padStart(4, '0')}); the model takes ${channelCount} channels`,
      });
      continue;
    }
    const id = match ? stem.slice(0, -match[0].length) : stem;
    const channels = byCase.get(id) ?? new Map<number, string>();
    channels.set(match ? Number(match[1]) : 0, file);
    byCase.set(id, channels);
  }
  for (const [id, channels] of byCase) {
    const missing = Array.from({ length: channelCount }, (_, k) => k).filter((k) => !channels.has(k));
    const extra = [...channels.keys()].filter((k) => k >= channelCount);
    if (missing.length > 0 || extra.length > 0) {
      const file = [...channels.values()][0];
      const problem =
        missing.length > 0
          ? `lacks channel ${missing.map((k) => `_${String(k).padStart(4, '0')}`).join(', ')}`
          : `has channel _${String(extra[0]).padStart(4, '0')} but the model takes ${channelCount}`;
      list.problems.push({ id, file, problem: `${problem} (case ${id})` });
      continue;
    }
    const target = join(out, id);
    list.cases.push({
      id,
      channels: Array.from({ length: channelCount }, (_, k) => channels.get(k)!),
      output: `${target}.nii.gz`,
      probabilities: probabilities ? `${target}_probabilities.nii.gz` : undefined,
    });
  }
}

/** Two cases writing one file, or a case writing over an input, are usage errors. */
function checkOutputs(cases: PredictionCase[]): void {
  const inputs = new Set(cases.flatMap((item) => item.channels.map((file) => resolve(file))));
  const seen = new Map<string, string>();
  for (const item of cases) {
    for (const output of [item.output, item.probabilities].filter((p): p is string => p !== undefined)) {
      if (inputs.has(resolve(output)))
        throw new UsageError(`the output ${output} would overwrite an input image; choose another --out`);
      const other = seen.get(resolve(output));
      if (other)
        throw new UsageError(
          `cases ${other} and ${item.id} would both write ${output}; give them different names or predict them separately`,
        );
      seen.set(resolve(output), item.id);
    }
  }
}
