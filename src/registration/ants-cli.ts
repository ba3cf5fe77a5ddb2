import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Mat4 } from '../io/affine.js';
import type { Volume } from '../io/volume.js';
import { ExternalToolError } from '../runtime/errors.js';
import { formatItkTextAffine, readItkMatTransform } from './itk-mat.js';
import { itkAffineToRas, rasToItkAffine } from './itk-transform.js';
import type { BiasCorrectionTask, Registrar, RegistrationTask } from './registrar.js';
import { expectOutput, readToolField, runTool } from './tool-run.js';

export const ANTS_RANDOM_SEED = 121212;

/** Output prefix of antsRegistration, in the work folder. */
const PREFIX = 'ants_';

/** The MI stage of a linear transform, as antsRegistrationSyN.sh runs it (flag and value pairs). */
const linearStage = (fixed: string, moving: string): string[][] => [
  ['--metric', `MI[${fixed},${moving},1,32,Regular,0.25]`],
  ['--convergence', '[1000x500x250x100,1e-6,10]'],
  ['--shrink-factors', '8x4x2x1'],
  ['--smoothing-sigmas', '3x2x1x0vox'],
];

/** The options of antsRegistrationSyN.sh that both calls share; `initial` starts the moving image. */
function sharedOptions(prefix: string, float: 0 | 1, initial: string): string[][] {
  return [
    ['--verbose', '1'],
    ['--dimensionality', '3'],
    ['--float', String(float)],
    ['--collapse-output-transforms', '1'],
    ['--output', `[${prefix},${prefix}Warped.nii.gz,${prefix}InverseWarped.nii.gz]`],
    ['--interpolation', 'Linear'],
    ['--use-histogram-matching', '0'],
    ['--winsorize-image-intensities', '[0.005,0.995]'],
    ['--initial-moving-transform', initial],
  ];
}

/** The rigid + affine call of antsRegistrationSyN.sh `-t a`, with a fixed seed. */
export function antsAffineArgs(fixed: string, moving: string, prefix: string): string[] {
  return [
    ...sharedOptions(prefix, 0, `[${fixed},${moving},1]`),
    ['--transform', 'Rigid[0.1]'],
    ...linearStage(fixed, moving),
    ['--transform', 'Affine[0.1]'],
    ...linearStage(fixed, moving),
    ['--random-seed', String(ANTS_RANDOM_SEED)],
  ].flat();
}

/**
 * The SyN stage of antsRegistrationSyN.sh started from `initial`, step and CC radius given
 * explicitly because ANTs 2.6 changed their defaults; single precision halves the warp's size.
 */
export function antsSynArgs(fixed: string, moving: string, initial: string, prefix: string): string[] {
  return [
    ...sharedOptions(prefix, 1, initial),
    ['--transform', 'SyN[0.2,3,0]'],
    ['--metric', `CC[${fixed},${moving},1,2]`],
    ['--convergence', '[100x70x50x20,1e-6,10]'],
    ['--shrink-factors', '8x4x2x1'],
    ['--smoothing-sigmas', '3x2x1x0vox'],
    ['--random-seed', String(ANTS_RANDOM_SEED)],
  ].flat();
}

/** antsApplyTransforms writing the composed fixed → moving map as one displacement field (ANTs' order: warp, then affine). */
export function antsComposeFieldArgs(fixed: string, prefix: string, field: string): string[] {
  return [
    ['--dimensionality', '3'],
    ['--reference-image', fixed],
    ['--output', `[${field},1]`],
    ['--transform', `${prefix}1Warp.nii.gz`],
    ['--transform', `${prefix}0GenericAffine.mat`],
    ['--float', '1'],
    ['--verbose', '1'],
  ].flat();
}

/** N4 as antsCorticalThickness.sh runs it, without a mask. */
export function n4Args(input: string, output: string): string[] {
  return ['-d', '3', '-i', input, '-s', '4', '-c', '[50x50x50x50,0.0000001]', '-b', '[200]', '-o', output];
}

/**
 * ANTs' command-line parser reads every ( { < as [ and ) } > as ], and splits the parameters of an
 * option in brackets at commas: a path holding any of these would reach the tool changed.
 */
const ANTS_SYNTAX = /[[\](){}<>,]/;

/**
 * The name an ANTs tool running in `work` reads `path` by: relative to `work`, or, when that still
 * holds characters of ANTs' syntax, a copy of the file made in `work`.
 */
export async function antsInput(path: string, work: string, copyName: string): Promise<string> {
  const name = relative(work, path);
  if (!ANTS_SYNTAX.test(name)) return name;
  await copyFile(path, join(work, copyName));
  return copyName;
}

/** ANTs as installed (antsRegistration, antsApplyTransforms, N4BiasFieldCorrection on PATH), run in the work folder with relative names. */
export class AntsCli implements Registrar {
  readonly name = 'ants' as const;

  constructor(
    readonly version: string,
    readonly threads: number,
  ) {}

  async affine(task: RegistrationTask): Promise<Mat4> {
    await mkdir(task.work, { recursive: true });
    const [fixed, moving] = [
      await antsInput(task.fixed, task.work, 'fixed.nii.gz'),
      await antsInput(task.moving, task.work, 'moving.nii.gz'),
    ];
    await runTool('antsRegistration', antsAffineArgs(fixed, moving, PREFIX), task, 'affine', this.threads);
    return this.readAffine(join(task.work, `${PREFIX}0GenericAffine.mat`), task, 'affine');
  }

  async deformable(task: RegistrationTask & { initial: Mat4 }): Promise<Volume> {
    await mkdir(task.work, { recursive: true });
    const [fixed, moving] = [
      await antsInput(task.fixed, task.work, 'fixed.nii.gz'),
      await antsInput(task.moving, task.work, 'moving.nii.gz'),
    ];
    await writeFile(join(task.work, 'initial.txt'), formatItkTextAffine(rasToItkAffine(task.initial)));
    await runTool(
      'antsRegistration',
      antsSynArgs(fixed, moving, 'initial.txt', PREFIX),
      task,
      'deformable',
      this.threads,
    );
    expectOutput(join(task.work, `${PREFIX}1Warp.nii.gz`), 'antsRegistration', task, 'deformable');
    await this.readAffine(join(task.work, `${PREFIX}0GenericAffine.mat`), task, 'deformable');
    await runTool(
      'antsApplyTransforms',
      antsComposeFieldArgs(fixed, PREFIX, 'field.nii.gz'),
      task,
      'deformation field',
      this.threads,
    );
    return readToolField(join(task.work, 'field.nii.gz'), 'antsApplyTransforms', task);
  }

  async biasCorrect(task: BiasCorrectionTask): Promise<void> {
    await mkdir(task.work, { recursive: true });
    await runTool(
      'N4BiasFieldCorrection',
      n4Args(await antsInput(task.input, task.work, 'input.nii.gz'), 'corrected.nii.gz'),
      task,
      'bias correction',
      this.threads,
    );
    const corrected = join(task.work, 'corrected.nii.gz');
    expectOutput(corrected, 'N4BiasFieldCorrection', task, 'bias correction');
    await rename(corrected, task.output);
  }

  private async readAffine(file: string, task: RegistrationTask, step: string): Promise<Mat4> {
    expectOutput(file, 'antsRegistration', task, step);
    const transform = readItkMatTransform(await readFile(file));
    if (!transform)
      throw new ExternalToolError(
        `antsRegistration (${task.stage}, ${step}) wrote ${file}, which is not an ITK affine transform; see the logs in ${task.work}`,
      );
    return itkAffineToRas(transform.parameters, transform.fixed);
  }
}
