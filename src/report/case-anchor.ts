/** The id of a case's montage in a predict report, which the evaluate report links to. */
export function caseAnchor(subject: string, session: string): string {
  return session ? `sub-${subject}_ses-${session}` : subject;
}
