import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Vec3 } from '../io/affine.js';
import { formatTsv } from '../io/tsv.js';
import { writeFileAtomic, writeFolderAtomic } from '../runtime/atomic.js';
import { UsageError } from '../runtime/errors.js';
import { runPool } from '../runtime/pool.js';
import type { ProgressSink } from '../runtime/progress.js';
import { labelTable, type LabelSet } from './anatomy.js';
import type { Cohort } from './cohort.js';
import { synthesizeSubject, type SubjectSummary, type SubjectTask } from './subject.js';

export interface SynthOptions {
  out: string;
  subjects: number;
  sessions: [number, number];
  cohort: Cohort;
  shape: Vec3;
  voxelMm: number;
  warpMm: number;
  labels: LabelSet;
  seed: number;
  overwrite: boolean;
  workers?: number;
  version: string;
}

/** The network halves the grid four times (depth 4), so every dimension must divide by 16. */
export const SHAPE_MULTIPLE = 16;

export function checkSynthOptions(options: SynthOptions): void {
  if (options.shape.some((n) => n % SHAPE_MULTIPLE !== 0)) {
    throw new UsageError(
      `--shape ${options.shape.join(',')}: every dimension must be a multiple of ${SHAPE_MULTIPLE}, because the U-Net halves the grid four times`,
    );
  }
  if (options.sessions[0] > options.sessions[1]) {
    throw new UsageError(
      `--sessions ${options.sessions.join('-')}: the range must go from the smaller to the larger count (e.g. 2-4)`,
    );
  }
  if (existsSync(options.out) && readdirSync(options.out).length > 0 && !options.overwrite) {
    throw new UsageError(
      `${options.out} exists and is not empty; choose another --out or pass --overwrite to replace it`,
    );
  }
}

/**
 * Writes a synthetic longitudinal BIDS study (raw/, registered/, truth/, synth.json). The study is
 * built in a staging folder and appears at `out` only when complete.
 */
export async function synthesizeStudy(
  options: SynthOptions,
  hooks: { signal?: AbortSignal; onStart?: (subjects: number) => ProgressSink } = {},
): Promise<SubjectSummary[]> {
  checkSynthOptions(options);
  let summaries: SubjectSummary[] = [];
  await writeFolderAtomic(options.out, async (staging) => {
    const tasks: SubjectTask[] = Array.from({ length: options.subjects }, (_, index) => ({
      staging,
      index,
      seed: options.seed,
      cohort: options.cohort,
      sessions: options.sessions,
      shape: options.shape,
      voxelMm: options.voxelMm,
      warpMm: options.warpMm,
      labels: options.labels,
      subjectDigits: Math.max(2, String(options.subjects).length),
    }));
    const progress = hooks.onStart?.(options.subjects);
    summaries = await runPool<SubjectTask, SubjectSummary>(tasks, synthesizeSubject, {
      workers: options.workers ?? availableParallelism(),
      workerUrl: new URL('./worker.js', import.meta.url),
      signal: hooks.signal,
      onResult: (summary) => progress?.advance(1, `sub-${summary.subject}`),
    });
    await writeStudyFiles(staging, options, summaries);
  });
  return summaries;
}

async function writeStudyFiles(staging: string, options: SynthOptions, summaries: SubjectSummary[]): Promise<void> {
  const generatedBy = [
    { Name: 'longiseg synth', Version: options.version, Description: `seed ${options.seed}, ${options.cohort} cohort` },
  ];
  const describe = (name: string, type: 'raw' | 'derivative') =>
    `${JSON.stringify({ Name: name, BIDSVersion: '1.9.0', DatasetType: type, GeneratedBy: generatedBy }, null, 2)}\n`;
  const participants = formatTsv(
    ['participant_id', 'sex'],
    summaries.map((s) => [`sub-${s.subject}`, s.sex]),
  );
  const dseg = formatTsv(['index', 'name'], labelTable(options.labels));
  const roots = [
    ['raw', `longiseg synthetic ${options.cohort} study`, 'raw'],
    [
      'registered',
      `longiseg synthetic ${options.cohort} study, every session in its subject's space (true transforms)`,
      'derivative',
    ],
  ] as const;
  for (const [root, name, type] of roots) {
    await writeFileAtomic(join(staging, root, 'dataset_description.json'), describe(name, type));
    await writeFileAtomic(join(staging, root, 'participants.tsv'), participants);
    await writeFileAtomic(
      join(staging, root, 'derivatives', 'labels', 'dataset_description.json'),
      describe(`${name}: reference labels`, 'derivative'),
    );
    await writeFileAtomic(join(staging, root, 'derivatives', 'labels', 'dseg.tsv'), dseg);
  }
  const { out: _out, overwrite: _overwrite, workers: _workers, ...parameters } = options;
  await writeFileAtomic(
    join(staging, 'synth.json'),
    `${JSON.stringify({ tool: 'longiseg synth', parameters, subjects: summaries }, null, 2)}\n`,
  );
}
