import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tests run compiled from dist/test; the repository root is three levels up from this file. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export function fixture(...parts: string[]): string {
  return join(repoRoot, 'fixtures', ...parts);
}

/** Debian's python3 with nibabel and scipy (the pyenv python on PATH may lack them). */
export const python = process.env.LONGISEG_TEST_PYTHON ?? '/usr/bin/python3';

/** Whether a program is on PATH, for tests of a real external tool that skip where it is not installed. */
export function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$0"', program], { stdio: 'ignore' }).status === 0;
}

export function runPythonJson<T>(script: string, args: string[]): T {
  const output = execFileSync(python, [join(repoRoot, 'test', 'reference', script), ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return JSON.parse(output) as T;
}

export function makeTempDir(prefix = 'longiseg-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real executable, as a user would. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const result = spawnSync(process.execPath, [join(repoRoot, 'bin', 'longiseg'), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A command line from flags: { out: 'x', labeled: 'sub-01', input: [a, b], quiet: true } → --out x --labeled sub-01 --input a b --quiet. */
export function flagArgs(command: string, flags: Record<string, string | string[] | boolean>): string[] {
  return [
    command,
    ...Object.entries(flags).flatMap(([name, value]) =>
      value === true ? [`--${name}`] : value === false ? [`--no-${name}`] : [`--${name}`, ...[value].flat()],
    ),
  ];
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function flat(matrix: number[][]): number[] {
  return matrix.flat();
}

/** Starts the executable, sends `signal` `delayMs` after it has logged `marker` (progress), and returns its exit code and stderr. */
export async function interruptAfterProgress(
  args: string[],
  signal: NodeJS.Signals,
  marker = '"progress"',
  delayMs = 0,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'longiseg'), ...args, '--log-format', 'json']);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (stderr.includes(marker)) {
        clearInterval(poll);
        setTimeout(() => {
          child.kill(signal);
          resolve();
        }, delayMs);
      }
    }, 20);
  });
  return { code: await exited, stderr };
}

/** What the tiny training configs share: a 4-wide U-Net on 16³ crops, 6 steps, sub-04 for validation. */
const tinyRun = `preset: small
model: { base_width: 4 }
crop: 16
steps: 6
constant_steps: 2
validate_every: 100
validation_crop: 32
validation_volumes: 1
save_every: 100
split: { validation_subjects: [sub-04], test_subjects: [] }
`;
/** Training configs small enough for tests; finetuning with an Lcs update at every step, as the reference. */
export const tinyPretrain = `${tinyRun}heads: { width: 16, bottleneck: 4 }
patches: 8
augmentation: { motion: { p: 0.5 } }
`;
export const tinyFinetune = `${tinyRun}batch: 1
lcs: { every: 1 }
`;

/** Makes a tiny synthetic study in `out` (4 subjects of 2 sessions, 32³ at 5 mm); `flags` change it. */
export function synthTinyStudy(out: string, flags: Record<string, string> = {}): void {
  const result = runCli(
    flagArgs('synth', { out, subjects: '4', sessions: '2', shape: '32,32,32', 'voxel-mm': '5', ...flags, quiet: true }),
  );
  expect(result.status).toBe(0);
}

/**
 * A temporary folder holding a tiny synthetic study (4 subjects of 2 sessions, 32³ at 5 mm) made
 * before the tests of the calling describe and removed after them; `config` writes a file there.
 */
export function tinyStudy(): { dir: { path: string }; data: string; config(name: string, text: string): string } {
  const dir = makeTempDir();
  const study = join(dir.path, 'study');
  beforeAll(() => synthTinyStudy(study));
  afterAll(() => dir.remove());
  const config = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };
  return { dir, data: join(study, 'registered'), config };
}
