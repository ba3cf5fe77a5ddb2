import { existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { listNiftiFiles } from '../io/bids.js';
import { readNifti } from '../io/nifti.js';
import { labelMontage } from './montage.js';
import { REPORT } from './options.js';
import { labelColour } from './palette.js';
import { encodePng } from './raster.js';
import { canonicalVolume, centreVoxel, conventionNote, type Convention } from './slices.js';
import { writeReport, type ReportLogger } from './write-report.js';
import { chartSvg } from './charts.js';
import { escapeHtml, figure, htmlTable, paragraph, pngImage, renderPage, section } from './html.js';

export interface DemoArm {
  title: string;
  /** Per finetuning seed: median foreground Dice and STCS over the test sessions. */
  dice: (number | null)[];
  stcs: (number | null)[];
}

export interface DemoReportInputs {
  /** The Table 1 rows, header first, as the terminal shows them. */
  table: string[][];
  /** What the numbers show, in words (the comparison over seeds). */
  verdict: string;
  arms: DemoArm[];
  /** Each stage's report, relative to the demo folder. */
  links: { title: string; href: string }[];
  /** One test subject: the reference and each arm's segmentation of its sessions, one PNG per session. */
  segmentations: { title: string; pictures: { caption: string; png: Uint8Array }[] }[];
  convention: Convention;
  command: string;
}

export async function renderDemoReport(inputs: DemoReportInputs): Promise<string> {
  const [header, ...rows] = inputs.table;
  const points = inputs.arms.flatMap((arm) =>
    (['dice', 'stcs'] as const).flatMap((key) =>
      arm[key].flatMap((value, seed) =>
        value === null ? [] : [{ method: arm.title, measure: key === 'dice' ? 'Dice' : 'STCS', seed, value }],
      ),
    ),
  );
  const chart: TopLevelSpec = {
    data: { values: points },
    facet: { column: { field: 'measure', type: 'nominal', title: null } },
    spec: {
      width: 220,
      height: 180,
      encoding: {
        y: { field: 'method', type: 'nominal', title: null, sort: null },
        x: { type: 'quantitative', title: 'median over the test sessions', scale: { zero: false } },
      },
      layer: [
        { mark: { type: 'tick', thickness: 2, size: 40 }, encoding: { x: { aggregate: 'mean', field: 'value' } } },
        { mark: { type: 'point', filled: true }, encoding: { x: { field: 'value' }, tooltip: [{ field: 'seed' }] } },
      ],
    },
    resolve: { scale: { x: 'independent' } },
  };
  const sections = [
    section(
      'Table 1',
      htmlTable(header, rows) +
        figure(await chartSvg(chart), 'Each finetuning seed (points) and their mean (tick)') +
        `<pre>${escapeHtml(inputs.verdict)}</pre>`,
    ),
    section(
      'One test subject',
      paragraph(conventionNote(inputs.convention)) +
        inputs.segmentations
          .map(
            ({ title, pictures }) =>
              `<h3>${escapeHtml(title)}</h3>` +
              pictures.map((p) => figure(pngImage(p.png, `${title} ${p.caption}`), p.caption)).join('\n'),
          )
          .join('\n') || paragraph('No test subject was predicted.'),
    ),
    section(
      'Reports of the stages',
      `<ul>${inputs.links.map((l) => `<li><a href="${escapeHtml(l.href)}">${escapeHtml(l.title)}</a></li>`).join('')}</ul>`,
    ),
  ];
  return renderPage({ title: 'longiseg demo', lead: inputs.command, sections });
}

/**
 * The sessions of one subject segmented by each source (a folder of label maps laid out as the
 * images under `registered`), over their images, with the same slices for every source.
 */
export async function subjectSegmentations(
  registered: string,
  subject: string,
  sources: { title: string; folder: string }[],
  convention: Convention,
): Promise<DemoReportInputs['segmentations']> {
  const images = (await listNiftiFiles(join(registered, `sub-${subject}`))).filter((f) => /_T1w\.nii(\.gz)?$/.test(f));
  const labelFile = (folder: string, image: string) =>
    join(folder, relative(registered, dirname(image)), basename(image).replace(/_T1w\.nii(\.gz)?$/, '_dseg.nii.gz'));
  const volumes = await Promise.all(
    images.map(async (image) => canonicalVolume(await readNifti(image, { kind: 'image' }))),
  );
  // every source through the centroid of the first session's reference labels
  const first = canonicalVolume(await readNifti(labelFile(sources[0].folder, images[0]), { kind: 'label' }));
  const centre = centreVoxel(first, first.data);
  const rows: DemoReportInputs['segmentations'] = [];
  for (const source of sources) {
    const pictures = [];
    for (const [i, image] of images.entries()) {
      const file = labelFile(source.folder, image);
      if (!existsSync(file)) continue;
      const labels = canonicalVolume(await readNifti(file, { kind: 'label' }));
      const caption = basename(file).replace(/_dseg\.nii(\.gz)?$/, '');
      pictures.push({ caption, png: encodePng(labelMontage(volumes[i], labels, labelColour, { convention, centre })) });
    }
    rows.push({ title: source.title, pictures });
  }
  return rows;
}

export async function writeDemoReport(
  out: string,
  inputs: DemoReportInputs,
  logger: ReportLogger,
): Promise<string | undefined> {
  const links = inputs.links.filter((link) => existsSync(join(out, link.href.split('#')[0])));
  return writeReport(join(out, REPORT), () => renderDemoReport({ ...inputs, links }), logger);
}
