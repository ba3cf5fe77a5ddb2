import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Mat4 } from '../io/affine.js';
import type { Volume } from '../io/volume.js';
import { AFFINE_MAP, affineTransformFile, BSPLINE_MAP } from './elastix-params.js';
import { affineOfTransformMap } from './elastix-transform.js';
import { formatParameterFile, parseParameterFile, rasToItkAffine } from './itk-transform.js';
import type { Registrar, RegistrationTask } from './registrar.js';
import { expectOutput, readToolField, runTool } from './tool-run.js';

/**
 * elastix and transformix as installed (Debian's package `elastix`), run with argument arrays in
 * the work folder and given the files there by name: elastix mangles an output path holding spaces
 * (it looks for "/my\\ data/…" and exits 254), and its parameter files, which record the initial
 * transform's path, refuse values holding any of ,;!@#$%&|<>?.
 */
export class ElastixCli implements Registrar {
  readonly name = 'elastix' as const;

  constructor(
    readonly version: string,
    readonly threads: number,
  ) {}

  async affine(task: RegistrationTask): Promise<Mat4> {
    await mkdir(task.work, { recursive: true });
    const parameters = join(task.work, 'affine.txt');
    await writeFile(parameters, formatParameterFile(AFFINE_MAP));
    await runTool('elastix', this.elastixArgs(task, 'affine.txt'), task, 'affine', this.threads);
    const file = join(task.work, 'TransformParameters.0.txt');
    expectOutput(file, 'elastix', task, 'affine');
    return affineOfTransformMap(
      parseParameterFile(await readFile(file, 'utf8')),
      `elastix (${task.stage}, affine) wrote no valid affine parameters in ${file}; see ${join(task.work, 'elastix.log')}`,
    );
  }

  async deformable(task: RegistrationTask & { initial: Mat4 }): Promise<Volume> {
    await mkdir(task.work, { recursive: true });
    const initial = join(task.work, 'initial.txt');
    const parameters = join(task.work, 'bspline.txt');
    await writeFile(initial, formatParameterFile(affineTransformFile(rasToItkAffine(task.initial))));
    await writeFile(parameters, formatParameterFile(BSPLINE_MAP));
    await runTool(
      'elastix',
      this.elastixArgs(task, 'bspline.txt', ['-t0', 'initial.txt']),
      task,
      'deformable',
      this.threads,
    );
    const transform = join(task.work, 'TransformParameters.0.txt');
    expectOutput(transform, 'elastix', task, 'deformable');
    await runTool(
      'transformix',
      ['-def', 'all', '-tp', 'TransformParameters.0.txt', '-out', '.', '-threads', String(this.threads)],
      task,
      'deformation field',
      this.threads,
      'transformix.log',
    );
    const field = join(task.work, 'deformationField.nii.gz');
    return readToolField(field, 'transformix', task);
  }

  /** elastix on the task's images with a parameter file of the work folder, results written there. */
  private elastixArgs(task: RegistrationTask, parameters: string, ...initial: string[][]): string[] {
    return [
      ['-f', resolve(task.fixed)],
      ['-m', resolve(task.moving)],
      ['-p', parameters],
      ...initial,
      ['-out', '.'],
      ['-threads', String(this.threads)],
    ].flat();
  }
}
