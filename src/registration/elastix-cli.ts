import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Mat4 } from '../io/affine.js';
import { readNifti } from '../io/nifti.js';
import type { Volume } from '../io/volume.js';
import { ExternalToolError, InputError } from '../runtime/errors.js';
import { AFFINE_MAP, affineTransformFile, BSPLINE_MAP } from './elastix-params.js';
import { formatParameterFile, itkAffineToRas, lpsFieldToRas, parseParameterFile, rasToItkAffine } from './itk-transform.js';
import type { Registrar, RegistrationTask } from './registrar.js';

/** elastix and transformix as installed (Debian's package `elastix`), run with argument arrays. */
export class ElastixCli implements Registrar {
  readonly name = 'elastix' as const;

  constructor(
    readonly version: string,
    private readonly threads: number,
  ) {}

  async affine(task: RegistrationTask): Promise<Mat4> {
    await mkdir(task.work, { recursive: true });
    const parameters = join(task.work, 'affine.txt');
    await writeFile(parameters, formatParameterFile(AFFINE_MAP));
    await this.run('elastix', ['-f', task.fixed, '-m', task.moving, '-p', parameters, '-out', task.work, '-threads', String(this.threads)], task, 'affine');
    const file = join(task.work, 'TransformParameters.0.txt');
    this.expectOutput(file, task, 'affine', 'elastix');
    const transform = parseParameterFile(await readFile(file, 'utf8'));
    const values = transform.get('TransformParameters')?.map(Number);
    const centre = transform.get('CenterOfRotationPoint')?.map(Number) ?? [0, 0, 0];
    if (!values || values.length !== 12 || values.some((v) => !Number.isFinite(v))) {
      throw new ExternalToolError(`elastix (${task.stage}, affine) wrote no valid affine parameters in ${join(task.work, 'TransformParameters.0.txt')}; see ${join(task.work, 'elastix.log')}`);
    }
    return itkAffineToRas(values, centre);
  }

  async deformable(task: RegistrationTask & { initial: Mat4 }): Promise<Volume> {
    await mkdir(task.work, { recursive: true });
    const initial = join(task.work, 'initial.txt');
    const parameters = join(task.work, 'bspline.txt');
    await writeFile(initial, formatParameterFile(affineTransformFile(rasToItkAffine(task.initial))));
    await writeFile(parameters, formatParameterFile(BSPLINE_MAP));
    await this.run('elastix', ['-f', task.fixed, '-m', task.moving, '-p', parameters, '-t0', initial, '-out', task.work, '-threads', String(this.threads)], task, 'deformable');
    const transform = join(task.work, 'TransformParameters.0.txt');
    this.expectOutput(transform, task, 'deformable', 'elastix');
    await this.run('transformix', ['-def', 'all', '-tp', transform, '-out', task.work, '-threads', String(this.threads)], task, 'deformation field', 'transformix.log');
    const field = join(task.work, 'deformationField.nii.gz');
    this.expectOutput(field, task, 'deformation field', 'transformix');
    try {
      return lpsFieldToRas(await readNifti(field));
    } catch (error) {
      if (error instanceof InputError) throw new ExternalToolError(`transformix (${task.stage}) wrote an unreadable deformation field: ${error.message}`);
      throw error;
    }
  }

  /** Runs a tool; its output goes to a log in the work folder, which every failure names. */
  private async run(tool: string, args: string[], task: RegistrationTask, step: string, logName = `${tool}-${step.replace(/\s/g, '-')}.out`): Promise<void> {
    const log = join(task.work, logName);
    const result = await execa(tool, args, { reject: false, all: true, cancelSignal: task.signal, env: { ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS: String(this.threads) } });
    await writeFile(log, result.all ?? '');
    if (result.isCanceled) throw task.signal?.reason ?? new Error('cancelled');
    if (result.failed) {
      const reason = result.exitCode === undefined ? (result.signal ? `was killed by ${result.signal}` : (result.message ?? 'could not start')) : `exited with code ${result.exitCode}`;
      throw new ExternalToolError(`${tool} (${task.stage}, ${step}) ${reason}; see ${log}`);
    }
  }

  /** Tools may exit 0 without writing what they should; the outputs decide. */
  private expectOutput(path: string, task: RegistrationTask, step: string, tool: string): void {
    if (!existsSync(path)) throw new ExternalToolError(`${tool} (${task.stage}, ${step}) exited without writing ${path}; see the logs in ${task.work}`);
  }
}
