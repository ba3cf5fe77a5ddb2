import { z } from 'zod';
import { flag } from '../runtime/flags.js';

/** `--report` / `--no-report`: every stage writes report.html unless told not to. */
export const reportOption = {
  report: z
    .boolean()
    .default(true)
    .meta(flag('Write an HTML report (report.html; evaluate: evaluation.html), self-contained, next to the outputs')),
};

/** The left-right convention of the slices in a report. */
export const conventionOption = {
  convention: z
    .enum(['neurological', 'radiological'])
    .default('neurological')
    .meta(flag("Slices in the report with the patient's left on the left (neurological) or on the right")),
};

/** The report of a stage in its output folder. */
export const REPORT = 'report.html';
/** evaluate's report, which often shares the predictions' folder (and their report.html). */
export const EVALUATION_REPORT = 'evaluation.html';
