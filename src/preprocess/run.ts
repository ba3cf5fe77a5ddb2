import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findSessions, type SessionFiles } from '../data/study.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { exitCodeOf, InterruptedError, throwIfAborted, UsageError } from '../runtime/errors.js';
import type { Registrar } from '../registration/registrar.js';
import { forEachAtOnce } from '../runtime/pool.js';
import { selectShard, type Shard } from '../runtime/shard.js';
import { acquireLock, LOCK_POLL_SECONDS, lockHolder } from '../runtime/lock.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { preprocessSubject, registrationCount, type SubjectResult } from './subject.js';
import { RegistrationDivergedError } from './quality.js';
import type { SessionPairs } from './session-pairs.js';
import { withBiasCorrection, type BiasCorrectionChoice } from './bias-correction.js';
import { REPORT } from '../report/options.js';
import type { renderPreprocessIndex } from '../report/preprocess-report.js';
import type { Convention } from '../report/slices.js';
import { writeReport } from '../report/write-report.js';

export interface PreprocessOptions {
  bids: string;
  out: string;
  modalities: string[];
  labels?: string;
  template?: string;
  subjects?: string[];
  shard?: Shard;
  deformable: boolean;
  /** Which pairs of each subject's sessions are registered deformably. */
  sessionPairs: SessionPairs;
  overwrite: boolean;
  lockStaleHours: number;
  /** Wait for subjects another job holds instead of leaving them. */
  wait?: boolean;
  registrar: Registrar;
  biasCorrection: BiasCorrectionChoice;
  /** Subjects preprocessed at once (default 1). */
  subjectsAtOnce?: number;
  nanToNum?: boolean;
  command: string;
  version: string;
  /** Write report.html per subject and an index, slices in this convention. */
  report?: Convention;
}

export interface PreprocessHooks {
  signal?: AbortSignal;
  /** The subjects of this job and the registrations (bias corrections included) of those not done before. */
  onStart?: (work: { subjects: number; registrations: number }) => void;
  /** A registration or bias correction finished; `stage` says which. */
  onRegistration?: (stage: string) => void;
  onStage?: (stage: string) => void;
  onSubject?: (subject: string, outcome: 'started' | 'done' | 'skipped' | 'locked' | 'failed', detail?: string) => void;
  onWaiting?: (subjects: string[]) => void;
  onWarning?: (message: string) => void;
}

export interface PreprocessSummary {
  done: string[];
  skipped: string[];
  locked: string[];
  failed: { subject: string; message: string; exitCode: number }[];
}

/**
 * Every subject of the shard: skipped when its done.json is there (idempotent reruns; --overwrite
 * redoes it), locked against a second job, its failure recorded while the others go on.
 */
export async function runPreprocess(
  options: PreprocessOptions,
  hooks: PreprocessHooks = {},
): Promise<PreprocessSummary> {
  const { sessions } = await findSessions(options.bids, {
    modalities: options.modalities,
    labels: options.labels ?? 'labels',
  });
  const bySubject = new Map<string, SessionFiles[]>();
  for (const session of sessions) bySubject.set(session.subject, [...(bySubject.get(session.subject) ?? []), session]);
  let subjects = [...bySubject.keys()].sort();
  if (options.subjects) {
    const wanted = options.subjects.map((s) => s.replace(/^sub-/, ''));
    const unknown = wanted.filter((s) => !bySubject.has(s));
    if (unknown.length > 0)
      throw new UsageError(`--subjects: ${unknown.map((s) => `sub-${s}`).join(', ')} not in ${options.bids}`);
    subjects = wanted;
  }
  subjects = selectShard(subjects, options.shard);
  for (const subject of subjects) checkModalities(subject, bySubject.get(subject)!, options.modalities);
  await mkdir(options.out, { recursive: true });
  await writeDescription(options);
  const reportLogger = { warn: hooks.onWarning ?? (() => {}) };
  const subjectOptions = {
    deformable: options.deformable,
    sessionPairs: options.sessionPairs,
    templateIterations: 2,
    template: options.template,
  };
  const corrected = withBiasCorrection(options.registrar, options.biasCorrection);
  const registrar = countingRegistrar(corrected.registrar, hooks.onRegistration ?? (() => {}));
  const registrations = subjects
    .filter((subject) => options.overwrite || !isDone(join(options.out, `sub-${subject}`, 'done.json')))
    .reduce(
      (sum, subject) =>
        sum +
        registrationCount(bySubject.get(subject)!.length, options.modalities.length, {
          ...subjectOptions,
          registrar,
        }),
      0,
    );
  hooks.onStart?.({ subjects: subjects.length, registrations });
  const summary: PreprocessSummary = { done: [], skipped: [], locked: [], failed: [] };
  const attempt = async (subject: string): Promise<'locked' | undefined> => {
    const folder = join(options.out, `sub-${subject}`);
    const doneFile = join(folder, 'done.json');
    if (!options.overwrite && isDone(doneFile)) {
      summary.skipped.push(subject);
      hooks.onSubject?.(subject, 'skipped');
      return;
    }
    await mkdir(folder, { recursive: true });
    const lock = join(folder, '.lock');
    const release = await acquireLock(lock, options.lockStaleHours);
    if (!release) return 'locked';
    hooks.onSubject?.(subject, 'started');
    try {
      const result = await preprocessSubject(subject, bySubject.get(subject)!, {
        bids: options.bids,
        out: options.out,
        labels: options.labels,
        ...subjectOptions,
        registrar,
        nanToNum: options.nanToNum,
        convention: options.report,
        signal: hooks.signal,
        onStage: hooks.onStage,
      });
      const notes = corrected.uncorrectedNote ? [corrected.uncorrectedNote, ...result.notes] : result.notes;
      await writeQc(folder, subject, { sessions: result.qc, notes });
      const inputs = bySubject.get(subject)!.flatMap((s) => [...s.images, ...(s.label ? [s.label] : [])]);
      await writeFileAtomic(
        doneFile,
        `${JSON.stringify({ subject: `sub-${subject}`, sessions: result.sessions, inputs, template: options.template ?? null, tool: options.registrar.name, bias_correction: corrected.biasCorrection, session_pairs: options.deformable ? options.sessionPairs : null, tool_version: options.registrar.version, longiseg: options.version, command: options.command, finished: new Date().toISOString() }, null, 2)}\n`,
      );
      if (options.report && result.review)
        await writeReport(
          join(folder, REPORT),
          async () =>
            (await import('../report/preprocess-report.js')).renderSubjectReport({
              subject,
              sessions: result.review!,
              qc: result.qc,
              notes,
              convention: options.report!,
              command: options.command,
            }),
          reportLogger,
        );
      summary.done.push(subject);
      hooks.onSubject?.(subject, 'done', notes.join('; '));
    } catch (error) {
      if (error instanceof InterruptedError) throw error;
      if (error instanceof RegistrationDivergedError)
        await writeQc(folder, subject, { failed: error.message, sessions: error.qc });
      summary.failed.push({ subject, message: (error as Error).message, exitCode: exitCodeOf(error) });
      hooks.onSubject?.(subject, 'failed', (error as Error).message);
    } finally {
      await release();
    }
  };
  // subjects another job holds are left (and reported), or with --wait tried again until released
  let pending = subjects;
  for (;;) {
    const locked: string[] = [];
    await forEachAtOnce(pending, options.subjectsAtOnce ?? 1, async (subject) => {
      if ((await attempt(subject)) === 'locked') locked.push(subject);
    });
    if (locked.length === 0 || !options.wait) {
      summary.locked = locked;
      for (const subject of locked) {
        const lock = join(options.out, `sub-${subject}`, '.lock');
        hooks.onSubject?.(subject, 'locked', `${lock} is held by ${lockHolder(lock)}`);
      }
      break;
    }
    hooks.onWaiting?.(locked);
    await sleep(LOCK_POLL_SECONDS * 1000, undefined, { signal: hooks.signal }).catch(() =>
      throwIfAborted(hooks.signal),
    );
    pending = locked;
  }
  if (options.report)
    await writeReport(
      join(options.out, REPORT),
      async () =>
        (await import('../report/preprocess-report.js')).renderPreprocessIndex(subjectQc(options.out), options.command),
      reportLogger,
    );
  // subjects run at once finish in any order; the report lists them in the order given
  const position = new Map(subjects.map((subject, i) => [subject, i]));
  const byPosition = (a: string, b: string) => position.get(a)! - position.get(b)!;
  for (const list of [summary.done, summary.skipped, summary.locked]) list.sort(byPosition);
  summary.failed.sort((a, b) => byPosition(a.subject, b.subject));
  return summary;
}

const QC_METRIC =
  'normalised cross-correlation (NCC) with the subject template before and after registration; Jacobian determinant of the subject-to-session map inside the head';

/** A subject's qc.json: what its numbers are, then `fields` (sessions, and notes or why it failed). */
async function writeQc(folder: string, subject: string, fields: Record<string, unknown>): Promise<void> {
  const qc = { subject: `sub-${subject}`, metric: QC_METRIC, ...fields };
  await writeFileAtomic(join(folder, 'qc.json'), `${JSON.stringify(qc, null, 2)}\n`);
}

/** The registrar, telling `onDone` when each of its registrations has finished. */
function countingRegistrar(registrar: Registrar, onDone: (stage: string) => void): Registrar {
  const counted =
    <T extends { stage: string }, R>(run: (task: T) => Promise<R>) =>
    async (task: T): Promise<R> => {
      const result = await run(task);
      onDone(task.stage);
      return result;
    };
  return {
    name: registrar.name,
    version: registrar.version,
    threads: registrar.threads,
    affine: counted((task) => registrar.affine(task)),
    deformable: counted((task) => registrar.deformable(task)),
    ...(registrar.biasCorrect && { biasCorrect: counted((task) => registrar.biasCorrect!(task)) }),
  };
}

/** The qc.json of every subject in the output folder (other jobs' included), with its report when there is one. */
function subjectQc(out: string): Parameters<typeof renderPreprocessIndex>[0] {
  return readdirSync(out)
    .filter((name) => name.startsWith('sub-') && existsSync(join(out, name, 'qc.json')))
    .sort()
    .map((name) => {
      const qc = JSON.parse(readFileSync(join(out, name, 'qc.json'), 'utf8')) as {
        sessions: SubjectResult['qc'];
        failed?: string;
      };
      return {
        subject: name.slice('sub-'.length),
        qc: qc.sessions,
        failed: qc.failed,
        link: existsSync(join(out, name, REPORT)) ? `${name}/${REPORT}` : undefined,
      };
    });
}

function isDone(path: string): boolean {
  if (!existsSync(path)) return false;
  try {
    return typeof JSON.parse(readFileSync(path, 'utf8')).finished === 'string';
  } catch {
    return false;
  }
}

/** Every session of a subject must have every modality (findSessions already failed otherwise), and only those. */
function checkModalities(subject: string, sessions: SessionFiles[], modalities: string[]): void {
  const counts = new Set(sessions.map((s) => s.images.length));
  if (counts.size > 1 || [...counts][0] !== modalities.length)
    throw new UsageError(
      `sub-${subject}: sessions have different numbers of modalities; every session needs ${modalities.join(' + ')}`,
    );
}

async function writeDescription(options: PreprocessOptions): Promise<void> {
  const path = join(options.out, 'dataset_description.json');
  if (existsSync(path)) return;
  const content = {
    Name: 'longiseg preprocess',
    BIDSVersion: '1.9.0',
    DatasetType: 'derivative',
    GeneratedBy: [{ Name: 'longiseg', Version: options.version, Description: options.command }],
  };
  await writeFileAtomic(path, `${JSON.stringify(content, null, 2)}\n`);
  if (options.labels) {
    const table = join(options.bids, 'derivatives', options.labels, 'dseg.tsv');
    if (existsSync(table)) {
      await mkdir(join(options.out, 'derivatives', options.labels), { recursive: true });
      await writeFileAtomic(join(options.out, 'derivatives', options.labels, 'dseg.tsv'), readFileSync(table, 'utf8'));
    }
  }
}
