/**
 * report bench, in one run:
 * - the evaluate report of 100 cases (25 subjects × 4 sessions, 64³ voxels, 17 labels, ages):
 *   its size, and the time to write it against the evaluation's own;
 * - each stage of a `demo --quick` study (made in bench/out/report-demo when BENCH_DEMO names no
 *   folder): the time to render its reports again against the stage's wall time in the demo.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { identity4 } from '../src/io/affine.js';
import { readNifti, writeNifti } from '../src/io/nifti.js';
import { createVolume } from '../src/io/volume.js';
import { listCases } from '../src/infer/cases.js';
import { evaluateFolders, type EvaluateOptions } from '../src/metrics/evaluate.js';
import { resampleAffine } from '../src/registration/compose.js';
import { writeEvaluateReport } from '../src/report/evaluate-report.js';
import { writePredictReport } from '../src/report/predict-report.js';
import type { SessionQuality } from '../src/preprocess/quality.js';
import { renderSubjectReport, reviewSession } from '../src/report/preprocess-report.js';
import { writeTrainingReport } from '../src/report/training-report.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = join(root, 'bench', 'out', 'report');
const logger = { warn: (message: string) => console.warn(message) };
const SUBJECTS = 25;
const SESSIONS = 4;
const SIZE = 64;

/** 17 labels: three nested spheres, then 14 small ones around the centre, a little displaced in the prediction. */
function labelMap(subject: number, session: number, jitter: number): Uint8Array {
  const data = new Uint8Array(SIZE ** 3);
  for (let label = 1; label <= 17; label++) {
    const angle = (2 * Math.PI * label) / 17 + 0.1 * subject;
    const radius = label <= 3 ? 24 - 4 * label : 4 + (label % 3);
    const [cx, cy, cz] = [
      32 + 12 * Math.cos(angle) * (label > 3 ? 1 : 0),
      32 + 12 * Math.sin(angle) * (label > 3 ? 1 : 0),
      32 + session + jitter,
    ];
    for (let k = 0, n = 0; k < SIZE; k++)
      for (let j = 0; j < SIZE; j++)
        for (let i = 0; i < SIZE; i++, n++)
          if ((i - cx) ** 2 + (j - cy) ** 2 + (k - cz) ** 2 < radius ** 2) data[n] = label;
  }
  return data;
}

async function makeStudy(): Promise<void> {
  const affine = [
    [2, 0, 0, -64],
    [0, 2, 0, -64],
    [0, 0, 2, -64],
    [0, 0, 0, 1],
  ];
  for (let s = 1; s <= SUBJECTS; s++) {
    const subject = `sub-${String(s).padStart(2, '0')}`;
    for (const side of ['pred', 'ref'])
      for (let t = 1; t <= SESSIONS; t++) {
        const folder = join(out, side, subject, `ses-0${t}`, 'anat');
        const file = join(folder, `${subject}_ses-0${t}_dseg.nii.gz`);
        if (existsSync(file)) continue;
        mkdirSync(folder, { recursive: true });
        await writeNifti(file, createVolume(labelMap(s, t, side === 'pred' ? 1 : 0), [SIZE, SIZE, SIZE], affine), {
          datatype: 'uint8',
        });
      }
    const ages = Array.from({ length: SESSIONS }, (_, t) => `ses-0${t + 1}\t${(0.5 + t * 0.75).toFixed(2)}`);
    writeFileSync(join(out, 'ref', subject, `${subject}_sessions.tsv`), `session_id\tage\n${ages.join('\n')}\n`);
  }
}

async function seconds<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await work();
  return [(performance.now() - start) / 1000, result];
}

async function evaluateReport(): Promise<void> {
  await makeStudy();
  const options: EvaluateOptions = {
    pred: join(out, 'pred'),
    ref: join(out, 'ref'),
    labels: { kind: 'auto' },
    longitudinal: true,
    annualize: false,
    hdPercentile: 95,
    resample: false,
    allowMissing: false,
  };
  const [evaluation, result] = await seconds(() => evaluateFolders(options, { meta: { command: 'bench' } }));
  const path = join(out, 'evaluation.html');
  const [report] = await seconds(() => writeEvaluateReport(path, result, { ...options, logger }));
  const megabytes = statSync(path).size / 2 ** 20;
  console.log(
    `evaluate, ${result.cases.length} cases: evaluation ${evaluation.toFixed(1)} s, report ${report.toFixed(2)} s (${((100 * report) / evaluation).toFixed(1)} %), ${megabytes.toFixed(2)} MB`,
  );
}

/** The demo's stages in order, each with its wall time from the markers the demo leaves. */
function stageSeconds(demo: string): Map<string, number> {
  const order = ['synth', 'preprocess', 'pretrain', 'finetune', 'predict', 'evaluate'];
  const finished = order.map((stage) => Date.parse(readFileSync(join(demo, '.demo', `${stage}.done`), 'utf8').trim()));
  return new Map(order.slice(1).map((stage, i) => [stage, (finished[i + 1] - finished[i]) / 1000]));
}

async function demoReports(): Promise<void> {
  let demo = process.env.BENCH_DEMO;
  if (!demo) {
    demo = join(root, 'bench', 'out', 'report-demo');
    if (!existsSync(join(demo, '.demo', 'evaluate.done')))
      execFileSync(join(root, 'bin', 'longiseg'), ['demo', '--quick', '--out', demo, '--quiet'], { stdio: 'inherit' });
  }
  const stages = stageSeconds(demo);
  const runs = (stage: string) =>
    readdirSync(demo)
      .filter((name) => name.startsWith(`${stage}-`))
      .map((name) => join(demo, name));
  const scratch = join(out, 'demo-reports');
  mkdirSync(scratch, { recursive: true });
  const timings: [string, number][] = [];
  const registered = join(demo, 'registered');
  const subjects = readdirSync(registered).filter(
    (name) => name.startsWith('sub-') && existsSync(join(registered, name, 'qc.json')),
  );
  timings.push([
    'preprocess',
    (
      await seconds(async () => {
        for (const subject of subjects) {
          const template = await readNifti(join(registered, subject, `${subject}_template.nii.gz`));
          const sessions = readdirSync(join(registered, subject)).filter((name) => name.startsWith('ses-'));
          const reviews = [];
          for (const session of sessions) {
            const name = `${subject}_${session}`;
            const raw = await readNifti(join(demo, 'study', 'raw', subject, session, 'anat', `${name}_T1w.nii.gz`));
            const after = await readNifti(
              join(registered, subject, session, 'anat', `${name}_space-subject_T1w.nii.gz`),
            );
            reviews.push(
              reviewSession(
                session.slice(4),
                { before: resampleAffine(raw, template, identity4(), 'linear'), after, template },
                'neurological',
              ),
            );
          }
          const qc = JSON.parse(readFileSync(join(registered, subject, 'qc.json'), 'utf8')) as {
            sessions: Record<string, SessionQuality>;
          };
          writeFileSync(
            join(scratch, `${subject}.html`),
            renderSubjectReport({
              subject: subject.slice(4),
              sessions: reviews,
              qc: qc.sessions,
              notes: [],
              convention: 'neurological',
              command: 'bench',
            }),
          );
        }
      })
    )[0],
  ]);
  for (const kind of ['pretrain', 'finetune'] as const) {
    const folders = kind === 'pretrain' ? [join(demo, 'pretrain')] : runs('finetune');
    const [time] = await seconds(async () => {
      for (const [i, folder] of folders.entries())
        await writeTrainingReport(
          join(scratch, `${kind}-${i}.html`),
          { log: join(folder, 'train_log.tsv'), best: join(folder, 'best.safetensors') },
          { kind, bestStep: null, command: 'bench', logger },
        );
    });
    timings.push([kind, time]);
  }
  const testInputs = readdirSync(runs('predict')[0])
    .filter((name) => name.startsWith('sub-'))
    .map((name) => join(registered, name));
  timings.push([
    'predict',
    (
      await seconds(async () => {
        for (const folder of runs('predict')) {
          const { cases } = await listCases(testInputs, folder, ['T1w'], false);
          await writePredictReport(folder, cases, { bids: true, convention: 'neurological', command: 'bench', logger });
        }
      })
    )[0],
  ]);
  let evaluateTime = 0;
  for (const folder of runs('predict')) {
    const options: EvaluateOptions = {
      pred: folder,
      ref: join(registered, 'derivatives', 'labels'),
      labels: { kind: 'auto' },
      longitudinal: true,
      annualize: false,
      hdPercentile: 95,
      resample: false,
      allowMissing: true,
    };
    const evaluation = await evaluateFolders(options);
    evaluateTime += (
      await seconds(() => writeEvaluateReport(join(scratch, 'evaluation.html'), evaluation, { ...options, logger }))
    )[0];
  }
  timings.push(['evaluate', evaluateTime]);
  for (const [stage, time] of timings) {
    const wall = stages.get(stage)!;
    console.log(
      `demo ${stage}: stage ${wall.toFixed(1)} s, its reports ${time.toFixed(2)} s (${((100 * time) / wall).toFixed(1)} %)`,
    );
  }
}

mkdirSync(out, { recursive: true });
await evaluateReport();
await demoReports();
