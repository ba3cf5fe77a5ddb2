import type { Volume } from '../io/volume.js';
import type { SessionQuality } from '../preprocess/quality.js';
import { escapeHtml, figure, htmlTable, paragraph, pngImage, renderPage, section } from './html.js';
import { edgeMontage } from './montage.js';
import { encodePng } from './raster.js';
import { canonicalVolume, conventionNote, type Convention } from './slices.js';

/** What the report shows of one session: pictures and numbers, not volumes. */
export interface SessionReview {
  session: string;
  /** The session on the output grid before registration (its scanner position), template edges over it. */
  before: Uint8Array;
  after: Uint8Array;
}

/** The pictures of a session, all on the output grid. */
export function reviewSession(
  session: string,
  images: { before: Volume; after: Volume; template: Volume },
  convention: Convention,
): SessionReview {
  const template = canonicalVolume(images.template);
  const picture = (image: Volume) => encodePng(edgeMontage(canonicalVolume(image), template, { convention }));
  return { session, before: picture(images.before), after: picture(images.after) };
}

export interface SubjectReportInputs {
  subject: string;
  sessions: SessionReview[];
  qc: Record<string, SessionQuality>;
  notes: string[];
  convention: Convention;
  command: string;
}

export function renderSubjectReport(inputs: SubjectReportInputs): string {
  const rows = Object.entries(inputs.qc).map(([session, qc]) => [
    session,
    qc.ncc_before.toFixed(3),
    qc.ncc_after.toFixed(3),
    qc.jacobian_min.toFixed(3),
    qc.jacobian_max.toFixed(3),
    qc.folded_share > 0 ? `<span class="flag">${(100 * qc.folded_share).toFixed(2)} % folded</span>` : 'none',
  ]);
  const sections = [
    section(
      'Quality',
      paragraph(conventionNote(inputs.convention)) +
        htmlTable(['session', 'NCC before', 'NCC after', 'Jacobian min', 'Jacobian max', 'folding (det ≤ 0)'], rows, {
          raw: true,
        }) +
        paragraph(
          'NCC: normalised cross-correlation with the subject template. Jacobian: determinant of the map from the subject space to the session, inside the head; at or below 0 the map folds.',
        ) +
        (inputs.notes.length > 0 ? `<ul>${inputs.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''),
    ),
    ...inputs.sessions.map((s) =>
      section(
        `ses-${s.session}`,
        figure(
          pngImage(s.before, `ses-${s.session} before`),
          'before registration: the session as scanned, template edges in red',
        ) +
          figure(
            pngImage(s.after, `ses-${s.session} after`),
            'after registration: the session in subject space, template edges in red',
          ),
        `ses-${s.session}`,
      ),
    ),
  ];
  return renderPage({
    title: `longiseg preprocess · sub-${inputs.subject}`,
    lead: `${inputs.sessions.length} sessions · ${inputs.command}`,
    sections,
  });
}

/** The index of the subjects' reports, with their worst numbers; failed subjects flagged with the reason. */
export function renderPreprocessIndex(
  subjects: { subject: string; qc: Record<string, SessionQuality>; failed?: string; link?: string }[],
  command: string,
): string {
  const rows = subjects.map(({ subject, qc, failed, link }) => {
    const after = Object.values(qc).map((q) => q.ncc_after);
    const folded = Object.values(qc).map((q) => q.folded_share ?? 0);
    const name = escapeHtml(`sub-${subject}`);
    return [
      link ? `<a href="${escapeHtml(link)}">${name}</a>` : name,
      String(after.length),
      after.length ? Math.min(...after).toFixed(3) : '–',
      folded.length ? `${(100 * Math.max(...folded)).toFixed(2)} %` : '–',
      failed ? `<span class="flag">${escapeHtml(failed)}</span>` : 'done',
    ];
  });
  return renderPage({
    title: 'longiseg preprocess',
    lead: `${subjects.length} subjects · ${command}`,
    sections: [
      section(
        'Subjects',
        htmlTable(['subject', 'sessions', 'lowest NCC after', 'most folded', 'status'], rows, { raw: true }),
      ),
    ],
  });
}
