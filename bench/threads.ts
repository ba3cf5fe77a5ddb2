/**
 * threads bench (npm run bench -- threads), every figure in one run, on the wasm back end:
 * 1. the pretraining model step alone (32³ pair, ngf 16, nine 2048-wide heads) at 1 and N threads,
 *    and PyTorch's at 1 and N threads (OpenBLAS and torch.set_num_threads both set);
 * 2. pretraining end-to-end from in-memory sessions (augmentation, crops, the step) with the
 *    `small` and `paper` presets at 1 and N threads;
 * 3. (BENCH_PART=predict or all) `longiseg predict` of a 1 mm whole brain, 181×217×181, ngf 8, at
 *    1 and N threads;
 * 4. (BENCH_PART=data or all) the batches of a `finetune --config paper` step (three labelled 128³
 *    crops and a pair, the reference augmentation) drawn in line, and how long a step that computes
 *    as long waits for them with the data worker's prefetch of 2.
 * 5. (BENCH_PART=cores or all) what the machine gives N single-threaded copies of the model step run
 *    at once, longiseg's and PyTorch's, against one alone: the most any threading can gain here.
 * N is BENCH_THREADS (default 2). Timings alternate between thread counts, so that both meet the
 * same spells of load on a shared machine; each is the fastest of its repeats.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initBackend } from '../src/engine/backend.js';
import { computeThreads, setComputeThreads } from '../src/engine/wasm-kernels.js';
import { batchSource, type BatchStream } from '../src/data/batches.js';
import { augmentConfig, finetuneSchema, pretrainSchema, PRESETS } from '../src/train/config.js';
import { PretrainTask } from '../src/train/pretrain-task.js';
import { pretrainingSteps, randomSubjects, wholeBrainCase } from './steps.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const threads = Number(process.env.BENCH_THREADS ?? 2);
const part = process.env.BENCH_PART ?? 'train';
const counts = [1, threads];

await initBackend('wasm', (message) => console.warn(message), threads);
if (computeThreads() !== threads) throw new Error(`asked for ${threads} compute threads, got ${computeThreads()}`);

/** The fastest of `rounds` timings of each thread count, alternated. */
async function alternate(rounds: number, measure: (threads: number) => number | Promise<number>): Promise<number[]> {
  const fastest = counts.map(() => Infinity);
  for (let round = 0; round < rounds; round++) {
    for (const [i, count] of counts.entries()) {
      setComputeThreads(count);
      fastest[i] = Math.min(fastest[i], await measure(count));
    }
  }
  return fastest;
}

function pytorchStep(count: number): number {
  const output = execFileSync('/usr/bin/python3', [join(root, 'bench', 'pytorch_step.py'), '32', '2', String(count)], {
    encoding: 'utf8',
  });
  return JSON.parse(output).seconds_per_step as number;
}

const row = (what: string, [one, many]: number[], unit = 's') =>
  `${what}: ${one.toFixed(2)} ${unit} at 1 thread, ${many.toFixed(2)} ${unit} at ${threads} (${(one / many).toFixed(2)}×)`;

if (part === 'train' || part === 'all') {
  const step = pretrainingSteps(32, false);
  await step();
  const ours = await alternate(3, () => step());
  const torch = await alternate(2, pytorchStep);
  console.log(row('pretraining model step, 32³ pair, ngf 16, nine 2048-wide heads: longiseg', ours));
  console.log(row('  PyTorch', torch));
  console.log(
    `  longiseg/PyTorch: ${(ours[0] / torch[0]).toFixed(2)}× at 1 thread, ${(ours[1] / torch[1]).toFixed(2)}× at ${threads}`,
  );

  const subjects = randomSubjects();

  for (const preset of ['small', 'paper']) {
    for (const prefetch of [0, 2]) {
      const config = pretrainSchema.parse({ ...PRESETS.pretrain[preset], data: 'in-memory', out: 'unused', prefetch });
      const task = new PretrainTask(config, 18, subjects, subjects);
      await task.step(0, 2e-4);
      let number = 1;
      // steps back to back, as in a run, so that the data worker works while a step computes
      const seconds = await alternate(preset === 'paper' ? 2 : 4, async () => {
        const steps = preset === 'paper' ? 2 : 4;
        const start = performance.now();
        for (let i = 0; i < steps; i++) await task.step(number++, 2e-4);
        return (performance.now() - start) / 1000 / steps;
      });
      await task.close();
      console.log(
        row(
          `pretrain --config ${preset} end-to-end step, prefetch ${prefetch} (crop ${config.crop}, ngf ${config.model.base_width}, heads ${config.heads.width})`,
          seconds,
        ),
      );
      if (preset === 'paper')
        console.log(
          `  end-to-end at ${threads} threads / PyTorch's model step at ${threads}: ${(seconds[1] / torch[1]).toFixed(2)}×`,
        );
    }
  }
}

if (part === 'predict' || part === 'all') {
  const out = join(root, 'bench', 'out', 'threads');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const { model, image } = await wholeBrainCase(out);
  const seconds = await alternate(1, (count) => {
    const target = join(out, `run-${count}`);
    rmSync(target, { recursive: true, force: true });
    const start = performance.now();
    const result = spawnSync(
      process.execPath,
      [
        join(root, 'bin', 'longiseg'),
        'predict',
        '--model',
        model,
        '--input',
        image,
        '--out',
        target,
        '--backend',
        'wasm',
        '--quiet',
        '--threads',
        String(count),
      ],
      { encoding: 'utf8' },
    );
    if (result.status !== 0) throw new Error(`predict --threads ${count} failed: ${result.stderr}`);
    return (performance.now() - start) / 1000;
  });
  console.log(row('predict, 1 mm whole brain 181×217×181, ngf 8', seconds));
}

if (part === 'data' || part === 'all') {
  const config = finetuneSchema.parse({ ...PRESETS.finetune.paper, data: 'in-memory', out: 'unused' });
  const subjects = randomSubjects([144, 160, 144]);
  const options = {
    crop: config.crop,
    pairing: config.pairing,
    augment: augmentConfig(config),
    insideHead: config.crops_inside_head,
  };
  const streams: BatchStream[] = [
    { kind: 'labelled', count: config.batch, subjects, options },
    { kind: 'pairs', count: 1, subjects, options },
  ];
  const steps = 4;
  const inline = batchSource(streams, 0, 0);
  await inline.next(0);
  let start = performance.now();
  for (let step = 1; step <= steps; step++) await inline.next(step);
  const data = (performance.now() - start) / 1000 / steps;
  const ahead = batchSource(streams, 0, 2);
  await ahead.next(0);
  let waited = 0;
  for (let step = 1; step <= steps; step++) {
    // the step's compute, on the main thread as a training step's is
    const until = performance.now() + 1000 * data;
    while (performance.now() < until);
    start = performance.now();
    await ahead.next(step);
    waited += (performance.now() - start) / 1000;
  }
  await ahead.close();
  console.log(
    `finetune --config paper batches (${config.batch} labelled ${config.crop}³ crops + 1 pair, reference augmentation): ${data.toFixed(2)} s per step drawn in line; with prefetch 2 a step that computes ${data.toFixed(2)} s waits ${(waited / steps).toFixed(2)} s for them`,
  );
}

if (part === 'solo') {
  // one copy of the 1-thread model step, for the cores part (BENCH_THREADS=1)
  const step = pretrainingSteps(32, false);
  await step();
  let fastest = Infinity;
  for (let round = 0; round < 3; round++) fastest = Math.min(fastest, await step());
  console.log(JSON.stringify({ seconds_per_step: fastest }));
}

if (part === 'cores' || part === 'all') {
  const longisegCommand = [process.execPath, [fileURLToPath(new URL('./run.js', import.meta.url)), 'threads']] as const;
  const pytorchCommand = ['/usr/bin/python3', [join(root, 'bench', 'pytorch_step.py'), '32', '3', '1']] as const;
  /** Seconds per step of each of `copies` one-thread processes started together. */
  const together = (copies: number, [command, args]: readonly [string, readonly string[]]) =>
    Promise.all(
      Array.from({ length: copies }, async () => {
        const { stdout } = await promisify(execFile)(command, args, {
          env: { ...process.env, BENCH_PART: 'solo', BENCH_THREADS: '1' },
        });
        return JSON.parse(stdout.trim().split('\n').at(-1)!).seconds_per_step as number;
      }),
    );
  for (const [name, command] of [
    ['longiseg', longisegCommand],
    ['PyTorch', pytorchCommand],
  ] as const) {
    const [alone] = await together(1, command);
    const atOnce = await together(threads, command);
    const mean = atOnce.reduce((sum, seconds) => sum + seconds, 0) / threads;
    console.log(
      `${name} model step, one thread: ${alone.toFixed(2)} s alone, ${atOnce.map((seconds) => seconds.toFixed(2)).join(' and ')} s as ${threads} copies at once: the machine gives ${((threads * alone) / mean).toFixed(2)}× one copy's throughput`,
    );
  }
}
