import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../runtime/atomic.js';
import { InputError } from '../runtime/errors.js';
import { formatTsv } from '../io/tsv.js';
import type { Evaluation } from './evaluate.js';

export const SUMMARY_TOOL = 'longiseg evaluate';

function perCaseColumns(hdKey: string): string[] {
  const hd = hdKey.toLowerCase();
  return ['subject', 'session', 'label', 'name', 'dice', 'iou', hd, `${hd}_status`, 'vol_pred_mm3', 'vol_ref_mm3'];
}
const LONGITUDINAL_COLUMNS = [
  'subject',
  'session_a',
  'session_b',
  'label',
  'name',
  'stcs',
  'aspc',
  'stcs_ref',
  'aspc_ref',
  'years',
];

/**
 * Writes per_case.tsv, summary.json and (longitudinal) longitudinal.tsv into `folder`, each
 * atomically. Files of the same name that an earlier evaluation wrote are replaced; any other file
 * of that name is left alone and the write refused.
 */
export async function writeEvaluation(folder: string, evaluation: Evaluation): Promise<string[]> {
  const name = (label: number) => evaluation.table?.get(label) ?? null;
  const outputs: [string, string][] = [
    [
      'per_case.tsv',
      formatTsv(
        perCaseColumns(evaluation.hdKey),
        evaluation.cases.flatMap((c) =>
          c.metrics.map((m) => [
            c.subject,
            c.session || null,
            m.label,
            name(m.label),
            m.dice,
            m.iou,
            m.hd,
            m.hdStatus,
            m.volPredMm3,
            m.volRefMm3,
          ]),
        ),
      ),
    ],
    ['summary.json', `${JSON.stringify(evaluation.summary, null, 2)}\n`],
  ];
  if (evaluation.longitudinalRows) {
    outputs.push([
      'longitudinal.tsv',
      formatTsv(
        LONGITUDINAL_COLUMNS,
        evaluation.longitudinalRows.map((r) => [
          r.subject,
          r.sessionA,
          r.sessionB,
          r.label,
          name(r.label),
          r.stcs,
          r.aspc,
          r.stcsRef,
          r.aspcRef,
          r.years,
        ]),
      ),
    ]);
  }
  for (const [file] of outputs) refuseForeignFile(join(folder, file));
  for (const [file, text] of outputs) await writeFileAtomic(join(folder, file), text);
  return outputs.map(([file]) => join(folder, file));
}

function refuseForeignFile(path: string): void {
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const ours = path.endsWith('.json')
    ? (() => {
        try {
          return (JSON.parse(text) as { meta?: { tool?: string } }).meta?.tool === SUMMARY_TOOL;
        } catch {
          return false;
        }
      })()
    : text.startsWith('subject\tsession');
  if (!ours)
    throw new InputError(
      path,
      'exists and was not written by longiseg evaluate; choose another --out folder or move the file',
    );
}
