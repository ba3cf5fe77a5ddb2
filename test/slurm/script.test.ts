import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sbatchScript, shellQuote, type SlurmJob } from '../../src/slurm/script.js';
import { makeTempDir, runCli } from '../helpers.js';

const job: SlurmJob = {
  stage: 'preprocess',
  args: ['--bids', 'my study', '--out', 'registered'],
  array: 4,
  after: ['11', '12'],
  cpus: 4,
  memory: '8G',
  timeSeconds: 7200,
  logs: '/p/logs',
  directory: '/p',
  node: '/usr/bin/node',
  cli: '/opt/longiseg/bin/longiseg',
  origin: 'longiseg slurm preprocess …',
};

describe('sbatch scripts', () => {
  test('an array stage: directives, array, afterok dependency, threads, quoted arguments', () => {
    expect(sbatchScript(job)).toBe(
      [
        '#!/bin/bash',
        '#SBATCH --job-name=longiseg-preprocess',
        '#SBATCH --chdir=/p',
        '#SBATCH --output=/p/logs/%x-%A_%a.out',
        '#SBATCH --array=0-3',
        '#SBATCH --cpus-per-task=4',
        '#SBATCH --mem=8G',
        '#SBATCH --time=120',
        '#SBATCH --dependency=afterok:11:12',
        '# written by: longiseg slurm preprocess …',
        'set -euo pipefail',
        'export ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
        "exec /usr/bin/node /opt/longiseg/bin/longiseg preprocess --bids 'my study' --out registered --log-format json",
        '',
      ].join('\n'),
    );
  });

  test('a training stage resumes when latest.safetensors exists and stops 10 % (at most 10 min) before the limit', () => {
    const script = sbatchScript({
      ...job,
      stage: 'pretrain',
      array: undefined,
      after: [],
      args: ['--config', 'small', '--out', 'runs/pre'],
      timeSeconds: 3600,
    });
    expect(script).toContain('#SBATCH --output=/p/logs/%x-%j.out');
    expect(script).not.toContain('--array');
    expect(script).toContain('if [ -f runs/pre/latest.safetensors ]; then resume=(--resume); fi');
    expect(script).toContain(
      'pretrain --config small --out runs/pre "${resume[@]}" --time-limit 3240s --log-format json',
    );
  });

  test('shell quoting survives quotes and spaces', () => {
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
    expect(shellQuote('plain/path-1.nii.gz')).toBe('plain/path-1.nii.gz');
  });

  test('hostile values: control characters are refused (exit 2); $(), backticks, quotes and spaces reach the job unchanged', () => {
    const dir = makeTempDir();
    const marker = join(dir.path, 'pwned');
    for (const [flag, value] of [
      ['--partition', `gpu\ntouch ${marker}`],
      ['--logs', `logs\rtouch ${marker}`],
      ['--mem', '8G\n'],
    ]) {
      const result = runCli(['slurm', 'predict', flag, value, '--print', '--', '--model', 'm.safetensors'], {
        cwd: dir.path,
      });
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
    }
    const newlineArgument = runCli(['slurm', 'predict', '--print', '--', '--out', `x\ntouch ${marker}`], {
      cwd: dir.path,
    });
    expect(newlineArgument.status).toBe(2);
    expect(newlineArgument.stderr).toContain('arguments: "x\\ntouch');
    expect(newlineArgument.stderr).toContain('holds a control character ("\\n")');
    const after = runCli(['slurm', 'predict', '--after', '12;touch x', '--print'], { cwd: dir.path });
    expect(after.status).toBe(2);
    expect(after.stderr).toContain('--after: "12;touch x" is not a SLURM job ID');

    // what bash runs: the exec line prints its arguments instead of starting the job
    const hostile = [`$(touch ${marker})`, `\`touch ${marker}\``, `it's "quoted"`, 'two  spaces', '*', '$HOME'];
    const printed = runCli(
      [
        'slurm',
        'predict',
        '--partition',
        `p $(touch ${marker})`,
        '--logs',
        `l'o\`g\`s`,
        '--print',
        '--',
        '--out',
        ...hostile,
      ],
      { cwd: dir.path },
    );
    expect(printed.status).toBe(0);
    const script = join(dir.path, 'job.sbatch');
    writeFileSync(script, printed.stdout);
    const run = spawnSync('bash', ['-c', `exec() { printf '%s\\0' "$@"; }; source ${shellQuote(script)}`], {
      encoding: 'utf8',
      cwd: dir.path,
    });
    expect(run.status).toBe(0);
    const args = run.stdout.split('\0').slice(0, -1);
    expect(args.slice(2)).toEqual(['predict', '--out', ...hostile, '--log-format', 'json']);
    expect(existsSync(marker)).toBe(false);
    // each directive stays on its own #SBATCH line, quoted as one word
    const directives = printed.stdout.split('\n').filter((line) => line.startsWith('#SBATCH'));
    expect(directives).toContain(`#SBATCH ${shellQuote(`--partition=p $(touch ${marker})`)}`);
    expect(printed.stdout.split('\n').filter((line) => line !== '' && !line.startsWith('#'))).toHaveLength(3);
    dir.remove();
  });

  test('--submit without sbatch on PATH: exit 2, pointing to --print; an array for a one-job stage is refused', () => {
    const dir = makeTempDir();
    const empty = join(dir.path, 'bin');
    mkdirSync(empty);
    const submit = runCli(['slurm', 'predict', '--submit', '--', '--model', 'm.safetensors'], {
      cwd: dir.path,
      env: { PATH: empty },
    });
    expect(submit.status).toBe(2);
    expect(submit.stderr).toContain('sbatch is not on PATH');
    expect(submit.stderr).toContain('--print');
    const array = runCli(['slurm', 'evaluate', '--array', '3', '--print'], { cwd: dir.path });
    expect(array.status).toBe(2);
    expect(array.stderr).toContain('only preprocess and predict split their work over an array');
    dir.remove();
  });
});
