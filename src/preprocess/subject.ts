import { copyFile, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { identity4, invertAffine, multiply4, type Mat4 } from '../io/affine.js';
import { readNifti, writeNifti } from '../io/nifti.js';
import { resampleThroughField } from '../io/resample.js';
import { voxelCount, type Grid, type Volume } from '../io/volume.js';
import { normaliseMinPercentile } from '../data/intensity.js';
import type { SessionFiles } from '../data/study.js';
import { averageResampled, composeField, meanAffine, resampleAffine } from '../registration/compose.js';
import { addMatches, midpointField } from '../registration/midpoint.js';
import type { Registrar } from '../registration/registrar.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { throwIfAborted } from '../runtime/errors.js';
import {
  divergence,
  headMask,
  normalisedCrossCorrelation,
  RegistrationDivergedError,
  type SessionQuality,
} from './quality.js';
import { jacobianRange } from '../registration/jacobian.js';
import { matchSumCoefficients, registeredPairs, timeOrder, type SessionPairs } from './session-pairs.js';
import type { SessionReview } from '../report/preprocess-report.js';
import type { Convention } from '../report/slices.js';

export interface SubjectOptions {
  /** The raw BIDS dataset (for sub-*_sessions.tsv). */
  bids?: string;
  out: string;
  /** The label derivative's name (derivatives/<labels>/), when labels are carried along. */
  labels?: string;
  /** A template image all subjects are affinely aligned to; its grid becomes the output grid. */
  template?: string;
  deformable: boolean;
  /** Which pairs of sessions are registered deformably. */
  sessionPairs: SessionPairs;
  /** Rounds of "register to the current average, average again". */
  templateIterations: number;
  registrar: Registrar;
  /** Replace NaN and infinite voxels of the raw images with 0 instead of refusing them. */
  nanToNum?: boolean;
  /** Review each session for the report, its slices in this convention. */
  convention?: Convention;
  signal?: AbortSignal;
  onStage?: (stage: string) => void;
}

export interface SubjectResult {
  subject: string;
  sessions: string[];
  qc: Record<string, SessionQuality>;
  notes: string[];
  /** The pictures of each session for the report, when one was asked for. */
  review?: SessionReview[];
}

/**
 * The registrations (and bias corrections) preprocessSubject runs for a subject, which the progress
 * of a run counts: each session's images corrected, `templateIterations` rounds of affine
 * registrations to the template, then the pairs of sessions deformably, then the subject template to
 * --template.
 */
export function registrationCount(
  sessions: number,
  modalities: number,
  options: Pick<SubjectOptions, 'deformable' | 'sessionPairs' | 'templateIterations' | 'template' | 'registrar'>,
): number {
  const several = sessions > 1;
  return (
    (options.registrar.biasCorrect ? sessions * modalities : 0) +
    (several ? options.templateIterations * sessions : 0) +
    (several && options.deformable ? registeredPairs(sessions, options.sessionPairs).length : 0) +
    (options.template ? 1 : 0)
  );
}

/**
 * One subject: every session normalised, an unbiased affine template built from all of them
 * (no session is the reference: the transforms average to the identity), the sessions registered
 * deformably to each other and mapped to their midpoint, the subject template optionally aligned
 * to `template`, then every session, its other modalities and its labels resampled once through
 * the composed transform.
 */
export async function preprocessSubject(
  subject: string,
  sessions: SessionFiles[],
  options: SubjectOptions,
): Promise<SubjectResult> {
  const work = join(options.out, 'work', `sub-${subject}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const stage = (text: string) => {
    throwIfAborted(options.signal);
    options.onStage?.(`sub-${subject}: ${text}`);
  };
  const notes: string[] = [];

  const correct = options.registrar.biasCorrect?.bind(options.registrar);
  /** Every image of every session, bias-corrected where the back end can, normalised (min to P99.99); [session][modality]. */
  const images: Volume[][] = [];
  const normalisedFiles: string[] = [];
  for (const session of sessions) {
    const modalities: Volume[] = [];
    for (const [k, file] of session.images.entries()) {
      // the raw image first: non-finite voxels are refused, or replaced before any tool reads them
      let replaced = false;
      let image = await readNifti(file, {
        kind: 'image',
        require3D: true,
        nanToNum: options.nanToNum,
        onWarning: (message) => ((replaced = true), notes.push(message)),
      });
      if (correct) {
        stage(`N4 ses-${session.session} ${basename(file)}`);
        let input = file;
        if (replaced) {
          input = join(work, `ses-${session.session}_${k}_finite.nii.gz`);
          await writeNifti(input, image);
        }
        const output = join(work, `ses-${session.session}_${k}_n4.nii.gz`);
        await correct({
          input,
          output,
          work: join(work, `n4-ses-${session.session}-${k}`),
          stage: `sub-${subject} ses-${session.session} bias correction of ${basename(file)}`,
          signal: options.signal,
        });
        image = await readNifti(output, { kind: 'image', require3D: true });
      }
      stage(`normalising ses-${session.session}`);
      modalities.push({ ...image, data: normaliseMinPercentile(image.data, 99.99) });
    }
    const file = join(work, `ses-${session.session}_norm.nii.gz`);
    await writeNifti(file, modalities[0]);
    images.push(modalities);
    normalisedFiles.push(file);
  }

  const firstModality = images.map(([image]) => image);
  // the template: start from the first session's grid, then average the sessions affinely aligned to it
  let templateFile = normalisedFiles[0];
  const grid: Grid = firstModality[0];
  let toSession: Mat4[] = sessions.map(() => identity4());
  if (sessions.length === 1) notes.push('one session: it is its own template');
  for (let round = 0; round < (sessions.length > 1 ? options.templateIterations : 0); round++) {
    const affines: Mat4[] = [];
    for (const [i, session] of sessions.entries()) {
      stage(`affine ses-${session.session} → template (round ${round + 1})`);
      affines.push(
        await options.registrar.affine({
          fixed: templateFile,
          moving: normalisedFiles[i],
          work: join(work, `affine-${round}-ses-${session.session}`),
          stage: `sub-${subject} ses-${session.session} affine to the template`,
          signal: options.signal,
        }),
      );
    }
    const centre = invertAffine(meanAffine(affines));
    toSession = affines.map((a) => multiply4(a, centre));
    templateFile = join(work, `template-${round + 1}.nii.gz`);
    await writeNifti(
      templateFile,
      averageResampled(grid, firstModality, (image, i) => resampleAffine(image, grid, toSession[i], 'linear')),
    );
  }

  let fields = sessions.map((_, i) => composeField(grid, toSession[i]));
  if (options.deformable && sessions.length > 1) {
    const aligned: string[] = [];
    for (const [i, session] of sessions.entries()) {
      aligned.push(join(work, `affine-ses-${session.session}.nii.gz`));
      await writeNifti(aligned[i], resampleAffine(firstModality[i], grid, toSession[i], 'linear'));
    }
    // session i, affinely in template space, is the fixed image and session j's scan the moving one
    const register = async (i: number, j: number): Promise<Volume> => {
      const [fixed, moving] = [sessions[i].session, sessions[j].session];
      stage(`deformable ses-${moving} → ses-${fixed}`);
      return options.registrar.deformable({
        fixed: aligned[i],
        moving: normalisedFiles[j],
        initial: toSession[j],
        work: join(work, `deformable-${fixed}-${moving}`),
        stage: `sub-${subject} ses-${moving} deformable to ses-${fixed}`,
        signal: options.signal,
      });
    };
    const count = sessions.length;
    const matchSums: Float32Array[] = [];
    // up to three sessions the cycle is every pair: the direct mean, as with 'all'
    if (options.sessionPairs === 'all' || (options.sessionPairs === 'cycle' && count <= 3)) {
      for (let i = 0; i < count; i++) {
        const sum = new Float32Array(3 * voxelCount(grid.shape));
        for (let j = 0; j < count; j++) if (j !== i) addMatches(sum, await register(i, j), toSession[j]);
        matchSums.push(sum);
      }
    } else {
      const order = timeOrder(sessions);
      const pairs = registeredPairs(count, options.sessionPairs);
      const matches: Float32Array[] = [];
      for (const [a, b] of pairs) {
        const match = new Float32Array(3 * voxelCount(grid.shape));
        addMatches(match, await register(order[a], order[b]), toSession[order[b]]);
        matches.push(match);
      }
      const coefficients = matchSumCoefficients(count, pairs);
      for (let i = 0; i < count; i++) {
        const sum = new Float32Array(3 * voxelCount(grid.shape));
        coefficients[order.indexOf(i)].forEach((c, e) => {
          for (let v = 0; v < sum.length; v++) sum[v] += c * matches[e][v];
        });
        matchSums.push(sum);
      }
    }
    fields = matchSums.map((sum, i) => midpointField(sum, count, grid, toSession[i]));
    templateFile = join(work, 'template-deformable.nii.gz');
    await writeNifti(
      templateFile,
      averageResampled(grid, firstModality, (image, i) => resampleThroughField(image, fields[i], 'linear')),
    );
  }

  let outputGrid: Grid = grid;
  let toTemplate = identity4();
  if (options.template) {
    stage('affine subject template → --template');
    toTemplate = await options.registrar.affine({
      fixed: options.template,
      moving: templateFile,
      work: join(work, 'to-template'),
      stage: `sub-${subject} template to ${options.template}`,
      signal: options.signal,
    });
    outputGrid = await readNifti(options.template, { kind: 'image', require3D: true });
  }

  const template = await readNifti(templateFile);
  const templateOnOutput = options.template ? resampleAffine(template, outputGrid, toTemplate, 'linear') : template;
  const head = headMask(templateOnOutput);
  // every session is checked before anything of the subject is written: a diverged registration
  // fails the subject instead of leaving folded data behind
  const resampled = sessions.map((session, i) => {
    stage(`resampling ses-${session.session}`);
    const total = composeField(outputGrid, toTemplate, fields[i]);
    const moved = images[i].map((image) => resampleThroughField(image, total, 'linear'));
    const before = resampleAffine(firstModality[i], outputGrid, identity4(), 'linear');
    const jacobian = jacobianRange(total, head);
    const quality: SessionQuality = {
      ncc_before: normalisedCrossCorrelation(before.data, templateOnOutput.data),
      ncc_after: normalisedCrossCorrelation(moved[0].data, templateOnOutput.data),
      jacobian_min: jacobian.min,
      jacobian_max: jacobian.max,
      folded_share: jacobian.folded,
    };
    return { session, total, moved, before, quality };
  });
  const qc: SubjectResult['qc'] = Object.fromEntries(resampled.map((r) => [`ses-${r.session.session}`, r.quality]));
  const diverged = resampled.flatMap(({ session, quality }) => divergence(`ses-${session.session}`, quality));
  if (diverged.length > 0) throw new RegistrationDivergedError(`sub-${subject}: ${diverged.join('; ')}`, qc);
  const review: SessionReview[] = [];
  for (const [i, { session, total, moved, before }] of resampled.entries()) {
    const name = `sub-${subject}_ses-${session.session}`;
    const anat = join(options.out, `sub-${subject}`, `ses-${session.session}`, 'anat');
    const xfm = join(options.out, `sub-${subject}`, `ses-${session.session}`, 'xfm');
    await mkdir(anat, { recursive: true });
    await mkdir(xfm, { recursive: true });
    for (const [k, file] of session.images.entries()) {
      const suffix = /_([A-Za-z0-9]+)\.nii(\.gz)?$/.exec(file)?.[1] ?? `channel${k}`;
      await writeNifti(join(anat, `${name}_space-subject_${suffix}.nii.gz`), moved[k]);
    }
    if (options.labels && session.label) {
      const labels = join(
        options.out,
        'derivatives',
        options.labels,
        `sub-${subject}`,
        `ses-${session.session}`,
        'anat',
      );
      await mkdir(labels, { recursive: true });
      const label = await readNifti(session.label, { kind: 'label', require3D: true });
      await writeNifti(join(labels, `${name}_space-subject_dseg.nii.gz`), resampleThroughField(label, total, 'label'), {
        datatype: 'uint8',
      });
    }
    await writeNifti(join(xfm, `${name}_from-native_to-subject_mode-image_xfm.nii.gz`), total);
    await writeFileAtomic(
      join(xfm, `${name}_affine.json`),
      `${JSON.stringify({ subject_to_session: multiply4(toSession[i], toTemplate), note: 'RAS mm, maps a subject-space point to the native session point (the affine part of the total transform)' }, null, 2)}\n`,
    );
    if (options.convention)
      review.push(
        (await import('../report/preprocess-report.js')).reviewSession(
          session.session,
          { before, after: moved[0], template: templateOnOutput },
          options.convention,
        ),
      );
  }
  await writeNifti(join(options.out, `sub-${subject}`, `sub-${subject}_template.nii.gz`), templateOnOutput);
  const ages = join(options.bids ?? '', `sub-${subject}`, `sub-${subject}_sessions.tsv`);
  if (options.bids && existsSync(ages))
    await copyFile(ages, join(options.out, `sub-${subject}`, `sub-${subject}_sessions.tsv`));
  await rm(work, { recursive: true, force: true });
  return {
    subject,
    sessions: sessions.map((s) => s.session),
    qc,
    notes,
    ...(options.convention && { review }),
  };
}
