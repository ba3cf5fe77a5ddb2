import { relative } from 'node:path';
import { listNiftiFiles, parseBidsName, stripNiftiExtension } from '../io/bids.js';
import { InputError } from '../runtime/errors.js';

export interface CasePair {
  subject: string;
  /** '' when the files carry no session (nnU-Net style). */
  session: string;
  predFile: string;
  refFile: string;
}

export interface Pairing {
  mode: 'bids' | 'filename';
  cases: CasePair[];
  /** Predictions with no reference, and references with no prediction. */
  predOnly: string[];
  refOnly: string[];
}

/**
 * Pairs prediction and reference label maps: by subject and session when both folders hold BIDS
 * `sub-*_dseg` files (anywhere below them, derivatives included), else by identical relative file
 * name (nnU-Net's evaluate_folder convention).
 */
export async function pairFolders(predDir: string, refDir: string): Promise<Pairing> {
  const [predFiles, refFiles] = await Promise.all([listNiftiFiles(predDir), listNiftiFiles(refDir)]);
  if (predFiles.length === 0) throw new InputError(predDir, 'holds no NIfTI files (.nii, .nii.gz)');
  if (refFiles.length === 0) throw new InputError(refDir, 'holds no NIfTI files (.nii, .nii.gz)');
  const bidsPred = predFiles.filter(isBidsLabelMap);
  const bidsRef = refFiles.filter(isBidsLabelMap);
  const bids = bidsPred.length > 0 && bidsRef.length > 0;
  const keyOf = bids
    ? (file: string) => {
        const { subject, session } = parseBidsName(file);
        return `${subject}\t${session ?? ''}`;
      }
    : (file: string, root: string) => stripNiftiExtension(relative(root, file));
  const predByKey = index(bids ? bidsPred : predFiles, predDir, keyOf);
  const refByKey = index(bids ? bidsRef : refFiles, refDir, keyOf);
  const cases: CasePair[] = [];
  const refOnly: string[] = [];
  for (const [key, refFile] of refByKey) {
    const predFile = predByKey.get(key);
    if (!predFile) {
      refOnly.push(refFile);
      continue;
    }
    const [subject, session] = bids ? key.split('\t') : [key, ''];
    cases.push({ subject, session, predFile, refFile });
  }
  const predOnly = [...predByKey].filter(([key]) => !refByKey.has(key)).map(([, file]) => file);
  return { mode: bids ? 'bids' : 'filename', cases, predOnly, refOnly };
}

function isBidsLabelMap(file: string): boolean {
  const entities = parseBidsName(file);
  return entities.subject !== undefined && entities.suffix === 'dseg';
}

function index(files: string[], root: string, keyOf: (file: string, root: string) => string): Map<string, string> {
  const byKey = new Map<string, string>();
  for (const file of files) {
    const key = keyOf(file, root);
    const other = byKey.get(key);
    if (other) {
      const what = key.includes('\t') ? `sub-${key.replace('\t', ' ses-')}` : key;
      throw new InputError(
        root,
        `holds several label maps for ${what} (${relative(root, other)}, ${relative(root, file)}); point at one derivative folder`,
      );
    }
    byKey.set(key, file);
  }
  return byKey;
}
