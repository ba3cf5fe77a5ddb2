import { existsSync } from 'node:fs';
import { access, constants, mkdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Argv } from 'yargs';
import { z } from 'zod';
import type { Vec3 } from '../src/io/affine.js';
import { initBackend } from '../src/engine/backend.js';
import { listCases, type CaseProblem } from '../src/infer/cases.js';
import { writeDerivativeFiles } from '../src/infer/derivative.js';
import { claimOutputFolder } from '../src/infer/output-claim.js';
import { predictCase, type PredictionCase } from '../src/infer/predict-case.js';
import { PatchWorkers } from '../src/infer/patch-workers.js';
import { defaultThreads, threadsSchema } from '../src/runtime/threads.js';
import { unetPredictor } from '../src/infer/unet-predictor.js';
import { loadModel, NO_LEARNING_DICE, type SegmentationModel } from '../src/model/model-file.js';
import { removeOrphanTemporaries } from '../src/runtime/atomic.js';
import { ExitCode, InputError, InterruptedError, throwIfAborted, UsageError } from '../src/runtime/errors.js';
import { acquireLock, LOCK_POLL_SECONDS, lockHolder } from '../src/runtime/lock.js';
import { resolveShard, selectShard } from '../src/runtime/shard.js';
import { commaList } from '../src/runtime/lists.js';
import type { LongisegCommand } from './command.js';
import { flag } from '../src/runtime/flags.js';
import { addSchemaOptions } from './schema-options.js';
import { conventionOption, reportOption } from '../src/report/options.js';
import { globalSchema, resolveCommandOptions, type GlobalArgs } from './context.js';

export const predictSchema = globalSchema
  .extend({
    model: z.string().min(1).meta(flag('A longiseg model (best.safetensors of finetune)')),
    input: z
      .union([
        z
          .string()
          .min(1)
          .transform((path) => [path]),
        z.array(z.string().min(1)).min(1),
      ])
      .meta(
        flag('BIDS folders, folders of images (nnU-Net naming: CASE_0000.nii.gz …) or image files', { array: true }),
      ),
    out: z
      .string()
      .min(1)
      .meta(flag('Output folder; for BIDS inputs a derivative dataset (e.g. study/derivatives/longiseg)')),
    patch: z
      .union([z.number().int().positive(), z.string().min(1), z.array(z.number().int().positive()).length(3)])
      .default(128)
      .meta(
        flag(
          'Sliding-window patch: one size or x,y,z, multiples of 16 for the default U-Net; shrunk to the image when larger',
        ),
      ),
    overlap: z
      .number()
      .min(0)
      .lt(1)
      .default(0.5)
      .meta(flag('Fraction of a patch shared by neighbouring windows, in [0, 1), as nnU-Net')),
    tta: z
      .boolean()
      .default(false)
      .meta(flag('Mirror test-time augmentation: average over the flips training used (left-right: 2× slower)')),
    probabilities: z
      .boolean()
      .default(false)
      .meta(flag('Also write the class probabilities (4D float, one frame per class)')),
    keep_largest: z
      .union([z.string().min(1), z.number().int().positive()])
      .default('model')
      .meta(
        flag(
          "Keep only the largest connected region of these classes (model: those for which it raised the model's validation Dice, as nnU-Net's post-processing; all; none; or labels such as 4,5)",
        ),
      ),
    batch: z.number().int().positive().default(1).meta(flag('Patches per network call')),
    threads: threadsSchema.optional().meta(
      flag('Threads computing sliding-window tiles in parallel, 1 to 1024', {
        defaultText: 'SLURM_CPUS_PER_TASK, else one per CPU; 1 on the tensorflow back end, which threads itself',
        alias: 'workers',
      }),
    ),
    shard: z
      .string()
      .optional()
      .meta(flag('Only cases i, i+n, i+2n, … (i/n, i from 0)', { defaultText: 'SLURM_ARRAY_TASK_ID/COUNT when set' })),
    continue: z
      .boolean()
      .default(false)
      .meta(flag('Skip cases whose label map exists (outputs are written atomically, so an existing one is complete)')),
    overwrite: z.boolean().default(false).meta(flag('Replace existing outputs (also those of another model)')),
    wait: z
      .boolean()
      .default(false)
      .meta(
        flag('Wait for cases another predict into this --out is working on, instead of leaving them and exiting 6'),
      ),
    nan_to_num: z
      .boolean()
      .default(false)
      .meta(flag('Replace NaN and infinite image voxels with 0 instead of failing the case')),
    ...reportOption,
    ...conventionOption,
  })
  .strict();

/** --keep-largest → the foreground classes whose largest connected region alone is kept. */
export function keepLargestClasses(value: string | number, model: SegmentationModel): number[] {
  const classes = model.info.unet.outputClasses;
  if (value === 'model') return model.keepLargest ?? [];
  if (value === 'none') return [];
  if (value === 'all') return Array.from({ length: classes - 1 }, (_, k) => k + 1);
  const labels = typeof value === 'number' ? [value] : commaList(value, /,/).map(Number);
  if (labels.some((label) => !Number.isInteger(label) || label < 1 || label >= classes)) {
    throw new UsageError(
      `--keep-largest ${JSON.stringify(value)} must be model, all, none or foreground labels of the model (1 to ${classes - 1}), comma-separated`,
    );
  }
  return labels;
}

/** 64, "64", "64,80,64" or [64, 80, 64] → [x, y, z], each a multiple of the U-Net's 2^depth. */
export function parsePatch(value: number | string | number[], multiple: number): Vec3 {
  const sizes =
    typeof value === 'number' ? [value] : typeof value === 'string' ? commaList(value, /[,x×]/).map(Number) : value;
  const patch = (sizes.length === 1 ? [sizes[0], sizes[0], sizes[0]] : sizes) as Vec3;
  if (patch.length !== 3 || patch.some((n) => !Number.isInteger(n) || n <= 0 || n % multiple !== 0)) {
    throw new UsageError(
      `--patch ${JSON.stringify(value)} must be one size or three (x,y,z), each a positive multiple of ${multiple} (the U-Net pools ${Math.log2(multiple)} times)`,
    );
  }
  return patch;
}

type Entry = { id: string; item?: PredictionCase; problem?: CaseProblem };

export const predictCommand: LongisegCommand<Record<string, unknown>> = {
  command: 'predict',
  describe: 'Segment images with a trained model: sliding-window inference to NIfTI label maps',
  builder: (yargs: Argv<GlobalArgs>) =>
    addSchemaOptions(yargs, predictSchema)
      .usage('$0 predict --model CKPT --input DIR|FILE... --out DIR [options]')

      .example(
        '$0 predict --model finetune/best.safetensors --input study/derivatives/registered --out study/derivatives/longiseg',
        'a BIDS tree',
      )
      .example('$0 predict --model best.safetensors --input imagesTs --out predsTs --tta', 'nnU-Net-style folders'),
  async run(argv, context) {
    const options = await resolveCommandOptions(predictSchema, argv);
    if (options.continue && options.overwrite)
      throw new UsageError('--continue and --overwrite contradict each other; pass one');
    const shard = resolveShard(options.shard);
    const backend = await initBackend(options.backend, (message) => context.logger.warn(message));
    const model = await loadModel(options.model);
    if (options.tta && model.info.mirrorAxes?.length === 0)
      context.logger.warn(
        `--tta: ${options.model} was trained without flips, so there is nothing to average; predicting without mirroring`,
      );
    if (model.validation && model.validation.dice < NO_LEARNING_DICE) {
      context.logger.warn(
        `${options.model}: its training recorded a validation foreground Dice of ${model.validation.dice.toFixed(3)} (step ${model.validation.step}): it has not learned to segment, and its label maps will be close to empty`,
      );
    }
    const patch = parsePatch(options.patch, 2 ** model.info.unet.depth);
    const keepLargest = keepLargestClasses(options.keep_largest, model);
    await prepareOutputFolder(options.out);
    const list = await listCases(options.input, options.out, model.info.modalities, options.probabilities);
    const entries: Entry[] = [
      ...list.cases.map((item) => ({ id: item.id, item })),
      ...list.problems.map((problem) => ({ id: problem.id, problem })),
    ];
    entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const mine = selectShard(entries, shard);
    const done = (item: PredictionCase) =>
      existsSync(item.output) && (!item.probabilities || existsSync(item.probabilities));
    const existing = mine.filter((entry) => entry.item && done(entry.item));
    if (existing.length > 0 && !options.continue && !options.overwrite) {
      throw new UsageError(
        `${existing.length} of the outputs exist already (${existing[0].item!.output}); pass --continue to skip those cases or --overwrite to replace them`,
      );
    }
    const skipped = options.continue ? existing.length : 0;
    const todo = mine.filter((entry) => !(options.continue && entry.item && done(entry.item)));

    // not capped by the number of cases: one case's windows are spread over the workers too
    const workers =
      todo.length === 0
        ? 1
        : (options.threads ??
          (backend.name === 'tensorflow' || backend.name === 'webgpu' ? 1 : defaultThreads().threads));
    context.logger.info(
      {
        backend: backend.name,
        reason: backend.reason,
        workers,
        model: options.model,
        patch,
        tta: options.tta,
        keepLargest,
        shard: shard?.source,
      },
      `predict: ${mine.length} of ${entries.length} cases${shard ? ` (${shard.source})` : ''}, patch ${patch.join('×')}, back end ${backend.name} (${backend.reason}), ${workers} worker threads, ${keepLargest.length > 0 ? `largest region only of classes ${keepLargest.join(',')}` : 'no post-processing'}`,
    );
    const replaced = await claimOutputFolder(options.out, options.model, options.overwrite);
    if (replaced)
      context.logger.warn(
        `${options.out} held predictions of another model (${replaced}): the cases of this run are replaced, the others stay as they were`,
      );
    for (const file of await removeOrphanTemporaries(options.out))
      context.logger.info(`removed ${file}, left by a run that was killed while writing it`);
    await mkdir(join(options.out, '.locks'), { recursive: true });
    const pool = workers > 1 ? await PatchWorkers.start(options.model, backend.name, workers) : undefined;
    try {
      const progress = context.progress('predict: cases', todo.length);
      const failed: { id: string; message: string }[] = [];
      let predicted = 0;
      let doneElsewhere = 0;
      const fail = (entry: Entry, error: Error) => {
        failed.push({ id: entry.id, message: error.message });
        context.logger.error({ case: entry.id }, `${entry.id}: ${error.message}`);
      };
      const attempt = async (entry: Entry): Promise<'locked' | undefined> => {
        if (entry.problem) {
          fail(entry, new InputError(entry.problem.file, entry.problem.problem));
          progress.advance(1, entry.id);
          return undefined;
        }
        const item = entry.item!;
        // one job per case: another predict into this folder may hold it, or have finished it meanwhile
        const release = await acquireLock(caseLock(options.out, item), LOCK_STALE_HOURS);
        if (!release) return 'locked';
        try {
          if (!options.overwrite && done(item) && !existing.includes(entry)) {
            doneElsewhere++;
          } else {
            await predictCase(model.info, pool?.predict ?? unetPredictor(model.unet), item, {
              patch,
              overlap: options.overlap,
              tta: options.tta,
              keepLargest,
              batch: options.batch,
              concurrency: pool?.size,
              signal: context.signal,
              onPatch: (patches, total) => progress.advance(0, `${entry.id}: patch ${patches}/${total}`),
              nanToNum: options.nan_to_num,
              onWarning: (message) => context.logger.warn(message),
            });
            // a BIDS derivative once it holds a prediction, not before
            if (list.bids && predicted === 0) await writeDerivativeFiles(options.out, model.info, options.model);
            predicted++;
          }
        } catch (error) {
          if (error instanceof InterruptedError) throw error;
          fail(entry, error as Error);
        } finally {
          await release();
        }
        progress.advance(1, entry.id);
        return undefined;
      };
      let pending = todo;
      let locked: Entry[] = [];
      let waiting = '';
      for (;;) {
        locked = [];
        for (const entry of pending) if ((await attempt(entry)) === 'locked') locked.push(entry);
        if (locked.length === 0 || !options.wait) break;
        const message = `waiting for ${locked.length} cases another job is predicting`;
        if (message !== waiting) context.logger.info({ locked: locked.map((entry) => entry.id) }, (waiting = message));
        progress.advance(0, message);
        await sleep(LOCK_POLL_SECONDS * 1000, undefined, { signal: context.signal }).catch(() =>
          throwIfAborted(context.signal),
        );
        pending = locked;
      }
      if (options.report && list.cases.some(done)) {
        const { writePredictReport } = await import('../src/report/predict-report.js');
        const report = await writePredictReport(options.out, list.cases.filter(done), {
          bids: list.bids,
          convention: options.convention,
          command: context.commandLine,
          logger: context.logger,
        });
        if (report) context.logger.info(`wrote ${report}`);
      }
      progress.succeed(
        `predict: ${predicted} cases predicted, ${skipped + doneElsewhere} skipped (outputs existed), ${failed.length} failed${locked.length > 0 ? `, ${locked.length} held by another job` : ''}`,
      );
      if (failed.length > 0) {
        context.logger.error({ failed }, `failed cases:\n  ${failed.map((f) => `${f.id}: ${f.message}`).join('\n  ')}`);
        return ExitCode.badInput;
      }
      if (locked.length > 0) {
        context.logger.error(
          { locked: locked.map((entry) => entry.id) },
          `${locked.length} cases are being predicted by another job (${locked.map((entry) => `${entry.id}: ${lockHolder(caseLock(options.out, entry.item!))}`).join('; ')}): run again with --continue when it has finished, or pass --wait`,
        );
        return ExitCode.incomplete;
      }
      return ExitCode.ok;
    } finally {
      await pool?.close();
    }
  },
};

/** The lock of a case: OUT/.locks/<its output path, / as __>.lock (no folder appears before the case is done). */
function caseLock(out: string, item: PredictionCase): string {
  return join(out, '.locks', `${relative(out, item.output).split(sep).join('__')}.lock`);
}

/** A case lock older than this is taken over (its job was killed on another host). */
const LOCK_STALE_HOURS = 6;

async function prepareOutputFolder(out: string): Promise<void> {
  try {
    await mkdir(out, { recursive: true });
    await access(out, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      out,
      `cannot be written as the output folder (${code === 'EACCES' ? 'permission denied' : code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : code})`,
      { cause: error },
    );
  }
}
