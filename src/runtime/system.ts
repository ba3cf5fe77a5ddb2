import { statfs } from 'node:fs/promises';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { execa } from 'execa';

export interface ToolProbe {
  name: string;
  found: boolean;
  path?: string;
  version?: string;
}

/**
 * Finds a program on PATH and reads its version from what it prints. The exit code is not trusted:
 * antsApplyTransforms --version exits 1 after printing its version (ANTs 2.x).
 */
export async function probeTool(name: string, versionArgs: string[], pattern: RegExp): Promise<ToolProbe> {
  const which = await execa('which', [name], { reject: false });
  if (which.exitCode !== 0 || !which.stdout) return { name, found: false };
  const run = await execa(name, versionArgs, { reject: false, timeout: 20_000, all: true });
  const match = pattern.exec(run.all ?? '');
  return { name, found: true, path: which.stdout.trim(), version: match?.[1] };
}

export const EXTERNAL_TOOLS: [string, string[], RegExp][] = [
  ['antsRegistration', ['--version'], /ANTs Version:\s*(\S+)/i],
  ['antsApplyTransforms', ['--version'], /ANTs Version:\s*(\S+)/i],
  ['N4BiasFieldCorrection', ['--version'], /ANTs Version:\s*(\S+)/i],
  ['elastix', ['--version'], /elastix version:?\s*(\S+)/i],
  ['transformix', ['--version'], /transformix version:?\s*(\S+)/i],
];

export interface MachineInfo {
  node: string;
  cpus: number;
  memoryTotalBytes: number;
  memoryFreeBytes: number;
  diskFreeBytes?: number;
}

export async function machineInfo(folder: string): Promise<MachineInfo> {
  let diskFreeBytes: number | undefined;
  try {
    const stats = await statfs(folder);
    diskFreeBytes = stats.bavail * stats.bsize;
  } catch {
    diskFreeBytes = undefined;
  }
  return {
    node: process.version,
    cpus: availableParallelism(),
    memoryTotalBytes: totalmem(),
    memoryFreeBytes: freemem(),
    diskFreeBytes,
  };
}

/** Whether an optional package can be imported, and why not. */
export async function probeImport(packageName: string): Promise<{ loads: boolean; detail: string }> {
  try {
    await import(packageName);
    return { loads: true, detail: 'loads' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { loads: false, detail: code === 'ERR_MODULE_NOT_FOUND' ? 'not installed' : (error as Error).message };
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
