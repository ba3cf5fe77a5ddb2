import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Argv } from 'yargs';
import { z } from 'zod';
import { readNifti } from '../src/io/nifti.js';
import { applyInverse } from '../src/preprocess/inverse.js';
import { runPreprocess } from '../src/preprocess/run.js';
import { SESSION_PAIRS } from '../src/preprocess/session-pairs.js';
import { BIAS_CORRECTIONS } from '../src/preprocess/bias-correction.js';
import { chooseRegistrar } from '../src/registration/choose.js';
import { writeFileAtomic } from '../src/runtime/atomic.js';
import { ExitCode, InputError, UsageError } from '../src/runtime/errors.js';
import type { Progress } from '../src/runtime/progress.js';
import { resolveShard } from '../src/runtime/shard.js';
import { toolVersion } from '../src/runtime/version.js';
import { formatTsv } from '../src/io/tsv.js';
import { defaultThreads, threadsSchema } from '../src/runtime/threads.js';
import { commaList } from '../src/runtime/lists.js';
import type { LongisegCommand } from './command.js';
import { flag } from '../src/runtime/flags.js';
import { addSchemaOptions } from './schema-options.js';
import { conventionOption, reportOption } from '../src/report/options.js';
import { globalSchema, resolveCommandOptions, type GlobalArgs } from './context.js';

const list = z.union([
  z
    .string()
    .min(1)
    .transform((s) => commaList(s)),
  z.array(z.string().min(1)).min(1),
]);

export const preprocessSchema = globalSchema
  .extend({
    bids: z.string().min(1).meta(flag('The raw BIDS dataset')),
    out: z.string().min(1).meta(flag('The derivative to write (e.g. study/derivatives/registered)')),
    template: z
      .string()
      .min(1)
      .optional()
      .meta(flag('A 3D template image every subject is affinely aligned to (its grid becomes the output grid)')),
    labels: z.string().min(1).optional().meta(flag('Label maps to carry along: derivatives/NAME (or NAME)')),
    registration: z
      .enum(['auto', 'ants', 'elastix', 'elastix-wasm'])
      .default('auto')
      .meta(flag('Registration back end')),
    modalities: list.default(['T1w']).meta(flag('BIDS suffixes, the first drives registration')),
    subjects: list.optional().meta(flag('Only these subjects: sub-01,sub-02')),
    shard: z
      .string()
      .optional()
      .meta(flag('Only subjects i, i+n, … (i/n, i from 0); default from the SLURM array variables')),
    threads: threadsSchema.optional().meta(
      flag('Threads of the registration tool, 1 to 1024, also set as ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS', {
        defaultText: 'SLURM_CPUS_PER_TASK, else one per CPU',
      }),
    ),
    deformable: z
      .boolean()
      .default(true)
      .meta(
        flag('B-spline registration to the subject template after the affine one; --no-deformable for affine only'),
      ),
    bias_correction: z
      .enum(BIAS_CORRECTIONS)
      .default('auto')
      .meta(
        flag(
          "N4 bias field correction before registration: auto (ANTs' N4BiasFieldCorrection with --registration ants, longiseg's own N4 otherwise), longiseg (longiseg's N4 with every back end) or none",
        ),
      ),
    session_pairs: z
      .enum(SESSION_PAIRS)
      .default('cycle')
      .meta(
        flag(
          'Sessions registered deformably: cycle (each with its neighbours in time and the last with the first, 2N registrations), neighbours (without the last with the first, 2(N − 1)) or all (every ordered pair, N(N − 1))',
        ),
      ),
    overwrite: z.boolean().default(false).meta(flag('Redo subjects that are done (done.json)')),
    lock_stale_hours: z.number().positive().default(24).meta(flag('A subject lock older than this is taken over')),
    wait: z
      .boolean()
      .default(false)
      .meta(flag('Wait for subjects another job is processing (their .lock) instead of leaving them and exiting 6')),
    apply_inverse: z
      .string()
      .min(1)
      .optional()
      .meta(
        flag(
          'Instead of registering: map the sub-X_ses-Y_… files of this folder (predictions) from subject space back to native space, with the transforms in --out',
        ),
      ),
    native_out: z
      .string()
      .min(1)
      .optional()
      .meta(flag('Where --apply-inverse writes (BIDS layout, _space-subject dropped from the names)')),
    nan_to_num: z
      .boolean()
      .default(false)
      .meta(flag('Replace NaN and infinite voxels of the raw images with 0 instead of failing the subject')),
    ...reportOption,
    ...conventionOption,
  })
  .strict();

/**
 * The outputs are BIDS files themselves: written into the raw dataset, a rerun would read them as
 * more sessions. Inside it, only derivatives/ (where BIDS puts derived data) is allowed.
 */
function refuseOutputInsideInput(bids: string, out: string): void {
  const inside = relative(resolve(bids), resolve(out));
  if (inside.startsWith('..') || isAbsolute(inside)) return;
  if (inside.split(sep)[0] === 'derivatives' && inside !== 'derivatives') return;
  throw new UsageError(
    `--out ${out} ${inside === '' ? 'is' : 'lies inside'} the raw dataset --bids ${bids}; write to ${join(bids, 'derivatives', 'registered')} or outside it`,
  );
}

export const preprocessCommand: LongisegCommand<Record<string, unknown>> = {
  command: 'preprocess',
  describe:
    "Register every subject's sessions into one unbiased within-subject space (ANTs, elastix or elastix-wasm), labels carried along",
  builder: (yargs: Argv<GlobalArgs>) =>
    addSchemaOptions(yargs, preprocessSchema)
      .usage('$0 preprocess --bids DIR --out DIR [options]')

      .example(
        '$0 preprocess --bids study --out study/derivatives/registered --labels derivatives/labels',
        'every subject, labels carried along',
      )
      .example(
        '$0 preprocess --bids study --out study/derivatives/registered --apply-inverse predictions --native-out predictions-native',
        "predictions in subject space mapped back to each session's scan",
      ),
  async run(argv, context) {
    const options = await resolveCommandOptions(preprocessSchema, argv);
    if (!existsSync(options.bids)) throw new InputError(options.bids, 'no such folder');
    if (options.apply_inverse) {
      if (!options.native_out)
        throw new UsageError('--apply-inverse needs --native-out, the folder to write the native-space files to');
      const written = await applyInverse({
        input: options.apply_inverse,
        preprocessed: options.out,
        bids: options.bids,
        modality: options.modalities[0],
        out: options.native_out,
        overwrite: options.overwrite,
        signal: context.signal,
        onFile: (file) => context.logger.info({ file }, `preprocess --apply-inverse: ${file}`),
      });
      context.logger.info(
        { written: written.length },
        `preprocess --apply-inverse: wrote ${written.length} files to ${options.native_out}`,
      );
      return ExitCode.ok;
    }
    refuseOutputInsideInput(options.bids, options.out);
    if (options.template) await readNifti(options.template, { kind: 'image', require3D: true });
    const labels = options.labels?.replace(/^derivatives\//, '').replace(/\/$/, '');
    if (labels && !existsSync(join(options.bids, 'derivatives', labels)))
      throw new InputError(
        join(options.bids, 'derivatives', labels),
        'no such folder (--labels names a derivative of --bids)',
      );
    if (options.modalities.length === 0) throw new UsageError('--modalities needs at least one suffix');
    const threads = options.threads ?? defaultThreads().threads;
    const { registrar, reason } = await chooseRegistrar(options.registration, threads);
    const shard = resolveShard(options.shard);
    // a single-threaded tool (elastix-wasm) works on as many subjects at once as there are threads
    const subjectsAtOnce = Math.max(1, Math.floor(threads / registrar.threads));
    context.logger.info(
      { registration: registrar.name, version: registrar.version, shard: shard?.source, threads, subjectsAtOnce },
      `preprocess: registration by ${reason}${shard ? `, ${shard.source}` : ''}; ${registrar.threads} thread${registrar.threads > 1 ? 's' : ''} per registration, ${subjectsAtOnce} subject${subjectsAtOnce > 1 ? 's' : ''} at once`,
    );
    let progress: Progress | undefined;
    let waiting = '';
    const summary = await runPreprocess(
      {
        bids: options.bids,
        out: options.out,
        modalities: options.modalities,
        labels,
        template: options.template,
        subjects: options.subjects,
        shard,
        deformable: options.deformable,
        sessionPairs: options.session_pairs,
        overwrite: options.overwrite,
        lockStaleHours: options.lock_stale_hours,
        wait: options.wait,
        registrar,
        biasCorrection: options.bias_correction,
        subjectsAtOnce,
        nanToNum: options.nan_to_num,
        command: context.commandLine,
        version: toolVersion,
        report: options.report ? options.convention : undefined,
      },
      {
        signal: context.signal,
        onStart: ({ subjects, registrations }) => {
          progress = context.progress('preprocess: registrations', registrations);
          context.logger.info(
            { subjects, registrations },
            `preprocess: ${subjects} subjects, ${registrations} registrations to run`,
          );
        },
        onStage: (stage) => progress?.advance(0, stage),
        onRegistration: (stage) => progress?.advance(1, `${stage}: done`),
        onWarning: (message) => context.logger.warn(message),
        onWaiting: (subjects) => {
          const message = `waiting for ${subjects.map((s) => `sub-${s}`).join(', ')}, held by another job`;
          if (message !== waiting) context.logger.info({ subjects }, (waiting = message));
          progress?.advance(0, message);
        },
        onSubject: (subject, outcome, detail) => {
          // one line per subject and outcome, whatever the progress line's throttle: a batch log
          // says when each subject began and ended
          if (outcome === 'failed' || outcome === 'locked')
            context.logger.error({ subject, outcome }, `sub-${subject}: ${outcome}: ${detail}`);
          else context.logger.info({ subject, outcome }, `sub-${subject}: ${outcome}${detail ? ` (${detail})` : ''}`);
          progress?.advance(0, `sub-${subject} ${outcome}`);
        },
      },
    );
    progress?.succeed(
      `preprocess: ${summary.done.length} subjects done, ${summary.skipped.length} skipped (done before), ${summary.locked.length} locked by another job, ${summary.failed.length} failed`,
    );
    if (summary.failed.length === 0 && summary.locked.length > 0) {
      context.logger.error(
        { locked: summary.locked },
        `${summary.locked.length} subjects are being processed by another job and are not done yet (${summary.locked.map((s) => `sub-${s}`).join(', ')}): run again when it has finished, or pass --wait`,
      );
      return ExitCode.incomplete;
    }
    if (summary.failed.length === 0) return ExitCode.ok;
    const failedList = join(options.out, `preprocess_failed${shard ? `_shard-${shard.index}` : ''}.tsv`);
    await writeFileAtomic(
      failedList,
      formatTsv(
        ['participant_id', 'error'],
        summary.failed.map((f) => [`sub-${f.subject}`, f.message.replace(/\s+/g, ' ')]),
      ),
    );
    context.logger.error(
      { failed: summary.failed },
      `failed subjects (listed in ${failedList}):\n  ${summary.failed.map((f) => `sub-${f.subject}: ${f.message}`).join('\n  ')}`,
    );
    return Math.max(...summary.failed.map((f) => f.exitCode));
  },
};
