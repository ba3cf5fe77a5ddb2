import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseBidsName, stripNiftiExtension } from '../io/bids.js';
import { readNifti } from '../io/nifti.js';
import { readLabelTable, type LabelTable } from '../io/labels.js';
import type { PredictionCase } from '../infer/predict-case.js';
import { caseAnchor } from './case-anchor.js';
import { REPORT } from './options.js';
import { writeReport, type ReportLogger } from './write-report.js';
import type { Volume } from '../io/volume.js';
import { figure, paragraph, pngImage, renderPage, section } from './html.js';
import { labelMontage } from './montage.js';
import { labelColour, legend } from './palette.js';
import { encodePng } from './raster.js';
import { canonicalVolume, centreVoxel, conventionNote, type Convention } from './slices.js';

export interface PredictedCase {
  /** The page anchor of the case (see caseAnchor). */
  anchor: string;
  /** The heading cases are grouped under (sub-01, or the case itself); a group is shown side by side, in session order. */
  subject: string;
  session: string;
  image: string;
  labels: string;
}

export interface PredictReportInputs {
  cases: PredictedCase[];
  table?: LabelTable;
  convention: Convention;
  command: string;
}

/**
 * Each case's label map over its image, three orthogonal slices. The sessions of a subject share
 * the slice positions (the centroid of all their labels), so a longitudinal inconsistency shows as
 * a difference between neighbouring pictures.
 */
export async function renderPredictReport(inputs: PredictReportInputs): Promise<string> {
  const bySubject = new Map<string, PredictedCase[]>();
  for (const c of inputs.cases) bySubject.set(c.subject, [...(bySubject.get(c.subject) ?? []), c]);
  const sections: string[] = [];
  const allLabels = new Set<number>(inputs.table ? [...inputs.table.keys()] : []);
  const subjects: { subject: string; figures: string[] }[] = [];
  for (const [subject, cases] of [...bySubject].sort(([a], [b]) => a.localeCompare(b))) {
    cases.sort((a, b) => a.session.localeCompare(b.session));
    const volumes: { c: PredictedCase; image: Volume; labels: Volume }[] = [];
    for (const c of cases) {
      const image = canonicalVolume(await readNifti(c.image, { kind: 'image' }));
      const labels = canonicalVolume(await readNifti(c.labels, { kind: 'label', require3D: true }));
      for (const v of new Set(labels.data)) allLabels.add(v);
      volumes.push({ c, image, labels });
    }
    const sameGrid = volumes.every((v) => v.labels.shape.join() === volumes[0].labels.shape.join());
    const centre = sameGrid ? subjectCentre(volumes.map((v) => v.labels)) : undefined;
    subjects.push({
      subject,
      figures: volumes.map(({ c, image, labels }) => {
        const picture = labelMontage(image, labels, labelColour, { convention: inputs.convention, centre });
        return figure(pngImage(encodePng(picture), c.anchor), c.anchor, c.anchor);
      }),
    });
  }
  sections.push(
    section(
      'Labels',
      legend(
        [...allLabels].sort((a, b) => a - b),
        inputs.table,
      ) + paragraph(`Slices through the centroid of the labels. ${conventionNote(inputs.convention)}`),
    ),
  );
  for (const { subject, figures } of subjects) sections.push(section(subject, figures.join('\n')));
  return renderPage({
    title: 'longiseg predict',
    lead: `${inputs.cases.length} cases of ${bySubject.size} subjects · ${inputs.command}`,
    sections,
  });
}

/** The centroid of the labels of all sessions of a subject (on one grid). */
function subjectCentre(labels: Volume[]): [number, number, number] {
  const union = new Uint8Array(labels[0].data.length);
  for (const volume of labels) volume.data.forEach((v, n) => (union[n] ||= v !== 0 ? 1 : 0));
  return centreVoxel(labels[0], union);
}

/** report.html of a predict output folder: every case whose label map is there. */
export async function writePredictReport(
  out: string,
  cases: PredictionCase[],
  options: { bids: boolean; convention: Convention; command: string; logger: ReportLogger },
): Promise<string | undefined> {
  return writeReport(
    join(out, REPORT),
    async () => {
      const tablePath = join(out, 'dseg.tsv');
      return renderPredictReport({
        cases: cases.map((item) => {
          const entities = parseBidsName(item.output);
          const bids = options.bids && entities.subject !== undefined;
          const session = bids ? (entities.session ?? '') : '';
          const anchor = bids
            ? caseAnchor(entities.subject!, session)
            : stripNiftiExtension(relative(out, item.output));
          return {
            anchor,
            subject: bids ? `sub-${entities.subject}` : anchor,
            session,
            image: item.channels[0],
            labels: item.output,
          };
        }),
        table: existsSync(tablePath) ? await readLabelTable(tablePath) : undefined,
        convention: options.convention,
        command: options.command,
      });
    },
    options.logger,
  );
}
