import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mat4 } from '../io/affine.js';
import type { Volume } from '../io/volume.js';
import { ExternalToolError } from '../runtime/errors.js';
import { formatItkTextAffine, readItkMatTransform } from './itk-mat.js';
import { itkAffineToRas, rasToItkAffine } from './itk-transform.js';
import type { BiasCorrectionTask, Registrar, RegistrationTask } from './registrar.js';
import { expectOutput, readToolField, runTool } from './tool-run.js';

export const ANTS_RANDOM_SEED = 121212;

const LINEAR_STAGE = (fixed: string, moving: string) => ['--metric', `MI[${fixed},${moving},1,32,Regular,0.25]`, '--convergence', '[1000x500x250x100,1e-6,10]', '--shrink-factors', '8x4x2x1', '--smoothing-sigmas', '3x2x1x0vox'];

/** The rigid + affine call of antsRegistrationSyN.sh `-t a` (conventions.md §4.1), with a fixed seed. */
export function antsAffineArgs(fixed: string, moving: string, prefix: string): string[] {
  return [
    '--verbose', '1', '--dimensionality', '3', '--float', '0', '--collapse-output-transforms', '1',
    '--output', `[${prefix},${prefix}Warped.nii.gz,${prefix}InverseWarped.nii.gz]`,
    '--interpolation', 'Linear', '--use-histogram-matching', '0', '--winsorize-image-intensities', '[0.005,0.995]',
    '--initial-moving-transform', `[${fixed},${moving},1]`,
    '--transform', 'Rigid[0.1]', ...LINEAR_STAGE(fixed, moving),
    '--transform', 'Affine[0.1]', ...LINEAR_STAGE(fixed, moving),
    '--random-seed', String(ANTS_RANDOM_SEED),
  ];
}

/**
 * The SyN stage of antsRegistrationSyN.sh (§4.2) started from `initial`, step and CC radius given
 * explicitly because ANTs 2.6 changed their defaults; single precision halves the warp's size (§12).
 */
export function antsSynArgs(fixed: string, moving: string, initial: string, prefix: string): string[] {
  return [
    '--verbose', '1', '--dimensionality', '3', '--float', '1', '--collapse-output-transforms', '1',
    '--output', `[${prefix},${prefix}Warped.nii.gz,${prefix}InverseWarped.nii.gz]`,
    '--interpolation', 'Linear', '--use-histogram-matching', '0', '--winsorize-image-intensities', '[0.005,0.995]',
    '--initial-moving-transform', initial,
    '--transform', 'SyN[0.2,3,0]', '--metric', `CC[${fixed},${moving},1,2]`,
    '--convergence', '[100x70x50x20,1e-6,10]', '--shrink-factors', '8x4x2x1', '--smoothing-sigmas', '3x2x1x0vox',
    '--random-seed', String(ANTS_RANDOM_SEED),
  ];
}

/** antsApplyTransforms writing the composed fixed → moving map as one displacement field (§4.3 order: warp, then affine). */
export function antsComposeFieldArgs(fixed: string, prefix: string, field: string): string[] {
  return ['--dimensionality', '3', '--reference-image', fixed, '--output', `[${field},1]`, '--transform', `${prefix}1Warp.nii.gz`, '--transform', `${prefix}0GenericAffine.mat`, '--float', '1', '--verbose', '1'];
}

/** N4 as antsCorticalThickness.sh runs it (§4.4), without a mask. */
export function n4Args(input: string, output: string): string[] {
  return ['-d', '3', '-i', input, '-s', '4', '-c', '[50x50x50x50,0.0000001]', '-b', '[200]', '-o', output];
}

/** ANTs as installed (antsRegistration, antsApplyTransforms, N4BiasFieldCorrection on PATH). */
export class AntsCli implements Registrar {
  readonly name = 'ants' as const;

  constructor(
    readonly version: string,
    private readonly threads: number,
  ) {}

  async affine(task: RegistrationTask): Promise<Mat4> {
    await mkdir(task.work, { recursive: true });
    const prefix = join(task.work, 'ants_');
    await runTool('antsRegistration', antsAffineArgs(task.fixed, task.moving, prefix), task, 'affine', this.threads);
    return this.readAffine(`${prefix}0GenericAffine.mat`, task, 'affine');
  }

  async deformable(task: RegistrationTask & { initial: Mat4 }): Promise<Volume> {
    await mkdir(task.work, { recursive: true });
    const prefix = join(task.work, 'ants_');
    const initial = join(task.work, 'initial.txt');
    await writeFile(initial, formatItkTextAffine(rasToItkAffine(task.initial)));
    await runTool('antsRegistration', antsSynArgs(task.fixed, task.moving, initial, prefix), task, 'deformable', this.threads);
    expectOutput(`${prefix}1Warp.nii.gz`, 'antsRegistration', task, 'deformable');
    await this.readAffine(`${prefix}0GenericAffine.mat`, task, 'deformable');
    const field = join(task.work, 'field.nii.gz');
    await runTool('antsApplyTransforms', antsComposeFieldArgs(task.fixed, prefix, field), task, 'deformation field', this.threads);
    return readToolField(field, 'antsApplyTransforms', task);
  }

  async biasCorrect(task: BiasCorrectionTask): Promise<void> {
    await mkdir(task.work, { recursive: true });
    await runTool('N4BiasFieldCorrection', n4Args(task.input, task.output), task, 'bias correction', this.threads);
    expectOutput(task.output, 'N4BiasFieldCorrection', task, 'bias correction');
  }

  private async readAffine(file: string, task: RegistrationTask, step: string): Promise<Mat4> {
    expectOutput(file, 'antsRegistration', task, step);
    const transform = readItkMatTransform(await readFile(file));
    if (!transform) throw new ExternalToolError(`antsRegistration (${task.stage}, ${step}) wrote ${file}, which is not an ITK affine transform; see the logs in ${task.work}`);
    return itkAffineToRas(transform.parameters, transform.fixed);
  }
}
