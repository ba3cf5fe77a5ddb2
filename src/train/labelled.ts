import type { Subject } from '../data/study.js';
import { UsageError } from '../runtime/errors.js';

/** One entry of finetune's `labeled` list: a subject (all its labelled sessions) or one session of it. */
export interface LabelledEntry {
  subject: string;
  session?: string;
}

/** `sub-01`, `01`, `sub-01:ses-03` or `01:03` → { subject '01', session '03' }. */
export function parseLabelledEntry(entry: string): LabelledEntry {
  const [subject, session, ...rest] = entry.trim().split(':');
  const strip = (value: string, prefix: string) => value.trim().replace(new RegExp(`^${prefix}-`), '');
  if (rest.length > 0 || !subject || session === '')
    throw new UsageError(`labeled: ${JSON.stringify(entry)} is neither sub-XX nor sub-XX:ses-YY`);
  return { subject: strip(subject, 'sub'), session: session === undefined ? undefined : strip(session, 'ses') };
}

/**
 * The labelled training subjects with only the chosen sessions' labels: a subject entry keeps every
 * labelled session, a session entry that session alone; the other sessions stay, unlabelled, for pairs.
 * Names that are not training subjects or sessions are usage errors.
 */
export function selectLabelled(
  train: Subject[],
  entries: LabelledEntry[] | 'all',
  known: { train: string[]; all: string[]; labels: string },
): Subject[] {
  if (entries === 'all') return train;
  const name = (entry: LabelledEntry) =>
    `sub-${entry.subject}${entry.session === undefined ? '' : `:ses-${entry.session}`}`;
  for (const entry of entries) {
    if (!known.all.includes(entry.subject))
      throw new UsageError(
        `labeled: ${name(entry)} is not a subject of the data (subjects: ${known.all.map((id) => `sub-${id}`).join(', ')})`,
      );
    if (!known.train.includes(entry.subject)) {
      throw new UsageError(
        `labeled: ${name(entry)} is not a training subject (training: ${known.train.map((id) => `sub-${id}`).join(', ')})`,
      );
    }
    const subject = train.find((s) => s.id === entry.subject)!;
    if (entry.session === undefined) continue;
    const session = subject.sessions.find((s) => s.session === entry.session);
    if (!session)
      throw new UsageError(
        `labeled: ${name(entry)}: sub-${entry.subject} has no session ${entry.session} (sessions: ${subject.sessions.map((s) => `ses-${s.session}`).join(', ')})`,
      );
    if (!session.label)
      throw new UsageError(`labeled: ${name(entry)} has no label map under derivatives/${known.labels}/`);
  }
  const chosen: Subject[] = [];
  for (const subject of train) {
    const mine = entries.filter((entry) => entry.subject === subject.id);
    if (mine.length === 0) continue;
    const whole = mine.some((entry) => entry.session === undefined);
    const sessions = subject.sessions.map((session) =>
      whole || mine.some((entry) => entry.session === session.session)
        ? session
        : { ...session, label: undefined, labelFile: undefined },
    );
    chosen.push({ id: subject.id, sessions });
  }
  return chosen;
}
