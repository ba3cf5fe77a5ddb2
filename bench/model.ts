/**
 * Compute-core bench (issue 5), in one run on the WebAssembly back end:
 * 1. conv3d forward + both gradients, vol2col vs tfjs's stock kernels (wasm and cpu);
 * 2. one full pretraining step (U-Net ngf 16, pair of 32³ crops, nine 2048-wide heads, all losses,
 *    Adam) with longiseg's kernels, with tfjs's stock kernels, and in PyTorch on one thread;
 * 3. peak memory of a training step on a 64³ pair.
 */
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/engine/backend.js';
import { wasmHeap } from '../src/engine/heap.js';
import { conv3dReflect, conv3dReflectStock } from '../src/engine/conv3d.js';
import { pretrainingSteps, time } from './steps.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const only = process.env.BENCH_PART;

function convStep(kind: 'ours' | 'stock', shape: number[], cout: number): () => void {
  const x = tf.randomNormal(shape as [number, number, number, number, number]) as tf.Tensor5D;
  const w = tf.randomNormal([3, 3, 3, shape[4], cout]) as tf.Tensor5D;
  const conv = kind === 'ours' ? conv3dReflect : conv3dReflectStock;
  return () =>
    tf.tidy(() => {
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a as tf.Tensor5D, b as tf.Tensor5D).sum())([x, w]);
      gx.dataSync();
      gw.dataSync();
    });
}

async function benchConv(): Promise<void> {
  for (const [shape, cout] of [
    [[1, 64, 64, 64, 16], 16],
    [[1, 16, 16, 16, 64], 64],
  ] as [number[], number][]) {
    const flops = 3 * 2 * shape.slice(0, 4).reduce((a, b) => a * b) * 27 * shape[4] * cout;
    await initBackend('wasm');
    const ours = time(convStep('ours', shape, cout), 2);
    const stockWasm = time(convStep('stock', shape, cout));
    await tf.setBackend('cpu');
    const stockCpu = time(convStep('stock', shape, cout));
    console.log(
      `conv3d ${shape.join('×')} → ${cout}, forward + both gradients: longiseg ${ours.toFixed(3)} s (${(flops / ours / 1e9).toFixed(1)} GFLOP/s); ` +
        `stock wasm ${stockWasm.toFixed(2)} s (${(stockWasm / ours).toFixed(1)}× slower); stock cpu ${stockCpu.toFixed(2)} s (${(stockCpu / ours).toFixed(1)}× slower)`,
    );
  }
}

/**
 * The stock baseline runs in a process of its own: tfjs's wasm conv3d input gradient reads out of
 * bounds (wrong values), which traps or not depending on what else the heap holds.
 */
function stockStepInFreshProcess(): number {
  const output = execFileSync(process.execPath, [fileURLToPath(new URL('run.js', import.meta.url)), 'model'], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_PART: 'stock-step' },
  });
  return JSON.parse(output.trim().split('\n').at(-1)!).seconds as number;
}

function pytorchStep(steps: number): number {
  return JSON.parse(
    execFileSync('/usr/bin/python3', [join(root, 'bench', 'pytorch_step.py'), '32', String(steps)], {
      encoding: 'utf8',
    }),
  ).seconds_per_step as number;
}

async function benchStep(): Promise<void> {
  await initBackend('wasm');
  const ours = pretrainingSteps(32, false);
  await ours();
  // alternated, so that both meet the same spells of load on a shared machine; the fastest of each
  let [fastest, torch] = [Infinity, Infinity];
  for (let round = 0; round < 2; round++) {
    fastest = Math.min(fastest, await ours(), await ours());
    torch = Math.min(torch, pytorchStep(2));
  }
  const stock = stockStepInFreshProcess();
  console.log(`pretraining step, pair of 32³, ngf 16, nine 2048-wide heads, all losses, Adam:`);
  console.log(
    `  longiseg (wasm): ${fastest.toFixed(2)} s; stock tfjs kernels (wasm): ${stock.toFixed(2)} s (${(stock / fastest).toFixed(1)}× slower); PyTorch 1 thread: ${torch.toFixed(2)} s (longiseg/PyTorch ${(fastest / torch).toFixed(2)}×)`,
  );
}

/** BENCH_WIDTH sets the head width (default the reference's 2048). */
async function benchMemory(): Promise<void> {
  await initBackend('wasm');
  const width = Number(process.env.BENCH_WIDTH ?? 2048);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const step = pretrainingSteps(64, false, width);
  await step();
  const seconds = await step();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const heap = wasmHeap()?.memory.buffer.byteLength ?? 0;
  console.log(
    `training step on a 64³ pair, heads ${width} wide: ${seconds.toFixed(1)} s, peak RSS ${(peak / 2 ** 30).toFixed(2)} GiB, wasm heap ${(heap / 2 ** 30).toFixed(2)} GiB`,
  );
}

if (!only || only === 'conv') await benchConv();
if (!only || only === 'step') await benchStep();
if (!only || only === 'memory') await benchMemory();
if (only === 'stock-step') {
  await initBackend('wasm');
  console.log(JSON.stringify({ seconds: await pretrainingSteps(32, true)() }));
}
