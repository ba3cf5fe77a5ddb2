import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chooseBackend, hardwareGpu, initBackend } from '../../src/engine/backend.js';
import { gpuAdapter, gpuDeviceFiles } from '../../src/engine/webgpu.js';
import { webgpuDevice } from '../../src/engine/tfjs-internals.js';
import { PretrainModel } from '../../src/train/pretrain-model.js';
import { exitCodeOf, GpuDeviceError } from '../../src/runtime/errors.js';
import { Random } from '../../src/runtime/random.js';
import { Adam } from '../../src/train/adam.js';
import { describePyTorchChecks } from '../model/pytorch-checks.js';
import { adamMatchesTorch } from '../train/adam-checks.js';
import { flagArgs, runCli, tinyFinetune, tinyPretrain, tinyStudy } from '../helpers.js';

/*
 * The WebGPU back end through Dawn. CI installs Mesa ≥ 25, whose lavapipe is a Vulkan driver on the
 * CPU, and sets LONGISEG_TEST_WEBGPU=1, so that a missing adapter fails there; on a machine where
 * Dawn finds no adapter these tests are skipped.
 */
const adapter = await gpuAdapter().catch((error: Error) => error);
if (adapter instanceof Error && process.env.LONGISEG_TEST_WEBGPU)
  throw new Error(`LONGISEG_TEST_WEBGPU is set, but ${adapter.message}`);
const available = !(adapter instanceof Error);

if (available) describePyTorchChecks('webgpu');

(available ? describe : describe.skip)('training steps on webgpu', () => {
  test('Adam, its moments on the device, matches torch.optim.Adam to 1e-6', async () => {
    await initBackend('webgpu');
    await adamMatchesTorch();
  });

  test('leave no tensor behind: tf.memory() is the same after one step and after four', async () => {
    await initBackend('webgpu');
    const model = new PretrainModel(
      { inputChannels: 1, outputClasses: 4, baseWidth: 4, depth: 4 },
      { width: 16, bottleneck: 4 },
      undefined,
      new Random(0),
    );
    const optimizer = new Adam(model.trainableVariables());
    const input = tf.randomNormal([2, 16, 16, 16, 1]) as tf.Tensor5D;
    await model.step(input, input, optimizer, 8, new Random(1));
    const after = tf.memory();
    for (let step = 2; step <= 4; step++) await model.step(input, input, optimizer, 8, new Random(step));
    expect(tf.memory().numTensors).toBe(after.numTensors);
    expect(tf.memory().numBytes).toBe(after.numBytes);
  }, 120_000);

  // last of the in-process tests: it destroys the back end's device
  test('a lost device stops the next step with exit 4 and names the cause', async () => {
    const model = new PretrainModel(
      { inputChannels: 1, outputClasses: 4, baseWidth: 4, depth: 4 },
      { width: 16, bottleneck: 4 },
      undefined,
      new Random(0),
    );
    const optimizer = new Adam(model.trainableVariables());
    const input = tf.randomNormal([2, 16, 16, 16, 1]) as tf.Tensor5D;
    (webgpuDevice() as { destroy(): void }).destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const failure = await model.step(input, input, optimizer, 8, new Random(1)).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(GpuDeviceError);
    expect(exitCodeOf(failure)).toBe(4);
    expect(failure!.message).toContain('the GPU device was lost (destroyed');
    expect(optimizer.stepCount).toBe(0);
  }, 120_000);
});

(available ? describe : describe.skip)('the commands on --backend webgpu', () => {
  const { dir, data, config } = tinyStudy();

  // validations every two steps, so that they run on webgpu too
  const tiny = (steps: number, pretraining = false) =>
    (pretraining ? tinyPretrain : tinyFinetune)
      .replace('steps: 6', `steps: ${steps}`)
      .replace('validate_every: 100', 'validate_every: 2');
  const trainLog = (out: string) =>
    readFileSync(join(out, 'train_log.tsv'), 'utf8')
      .trim()
      .split('\n')
      .filter((line) => line.includes('\ttrain\t'))
      .map((line) => line.split('\t').slice(4, 6).map(Number));

  test('pretrain, finetune from it and predict run, on a software adapter with a warning', () => {
    const pretrain = runCli(
      flagArgs('pretrain', {
        config: config('pretrain.yaml', tiny(2, true)),
        data,
        out: join(dir.path, 'pre'),
        backend: 'webgpu',
        'log-format': 'json',
      }),
    );
    expect(pretrain.status).toBe(0);
    expect(pretrain.stderr).toContain('back end webgpu');
    expect(pretrain.stderr).toContain('WebGPU runs on a software adapter');
    const finetune = runCli(
      flagArgs('finetune', {
        config: config('finetune.yaml', tiny(2)),
        data,
        out: join(dir.path, 'ft'),
        labeled: 'sub-01',
        pretrained: join(dir.path, 'pre', 'best.safetensors'),
        backend: 'webgpu',
        quiet: true,
      }),
    );
    expect(finetune.status).toBe(0);
    expect(trainLog(join(dir.path, 'ft')).flat().every(Number.isFinite)).toBe(true);
    const predict = runCli(
      flagArgs('predict', {
        model: join(dir.path, 'ft', 'best.safetensors'),
        input: join(data, 'sub-04'),
        out: join(dir.path, 'pred'),
        backend: 'webgpu',
        quiet: true,
      }),
    );
    expect(predict.status).toBe(0);
    expect(readFileSync(join(dir.path, 'pred', 'dseg.tsv'), 'utf8')).toContain('Cortex');
  }, 300_000);

  test('a finetuning run started on wasm resumes on webgpu and takes the steps the wasm run takes', () => {
    const path = config('resume.yaml', tiny(4));
    const common = ['--data', data, '--labeled', 'sub-01', '--quiet'];
    expect(
      runCli(['finetune', '--config', path, ...common, '--out', join(dir.path, 'wasm'), '--backend', 'wasm']).status,
    ).toBe(0);
    expect(
      runCli([
        'finetune',
        '--config',
        path,
        ...common,
        '--out',
        join(dir.path, 'crossed'),
        '--backend',
        'wasm',
        '--max-steps',
        '2',
      ]).status,
    ).toBe(0);
    expect(
      runCli(['finetune', '--out', join(dir.path, 'crossed'), '--resume', '--backend', 'webgpu', '--quiet']).status,
    ).toBe(0);
    const [wasm, crossed] = [trainLog(join(dir.path, 'wasm')), trainLog(join(dir.path, 'crossed'))];
    expect(crossed).toHaveLength(4);
    // Dice+CE and Lcs of steps 3 and 4, after two updates on the other back end. The losses'
    // gradients differ in rounding (wasm: one float64 pass; WebGPU: tfjs's float32 ops), and Adam's
    // first updates (about lr·sign(g)) carry that into the weights; a step out of place (another
    // batch, a lost update) moves the losses by several per cent.
    expect(Math.abs(crossed[2][0] - crossed[3][0]) / crossed[2][0]).toBeGreaterThan(0.02);
    for (const step of [2, 3])
      crossed[step].forEach((value, i) => expect(Math.abs(value - wasm[step][i]) / wasm[step][i]).toBeLessThan(1e-3));
  }, 300_000);

  test('auto passes over a software adapter and says so; doctor names the adapter', async () => {
    const wasm = chooseBackend('auto');
    const choice = await hardwareGpu(wasm, ['/dev/dri/renderD128']);
    expect(choice.name).toBe('wasm');
    expect(choice.reason).toContain('the only GPU adapter is a software one (llvmpipe');
    const report = JSON.parse(runCli(['doctor', '--json']).stdout);
    expect(report.webgpu.software).toBe(true);
    expect(report.backend.name).toBe('wasm');
    // on a machine without a GPU device file (CI's) auto does not even load Dawn
    const reason =
      gpuDeviceFiles()?.length === 0
        ? 'no GPU device (/dev/nvidia*, /dev/dri/renderD*, /dev/dxg)'
        : 'the only GPU adapter is a software one';
    expect(report.backend.reason).toContain(reason);
    expect(gpuDeviceFiles('darwin')).toBeUndefined();
  });

  test('--backend webgpu without a Vulkan driver exits 2 with the reason', () => {
    const result = runCli(['doctor', '--backend', 'webgpu'], {
      env: { VK_ICD_FILENAMES: join(dir.path, 'no-driver.json') },
    });
    expect(result.stdout).toContain('WebGPU adapter');
    const run = runCli(
      [
        'predict',
        '--model',
        join(dir.path, 'ft', 'best.safetensors'),
        '--input',
        join(data, 'sub-04'),
        '--out',
        join(dir.path, 'pred2'),
        '--backend',
        'webgpu',
      ],
      {
        env: { VK_ICD_FILENAMES: join(dir.path, 'no-driver.json') },
      },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--backend webgpu: Dawn found no GPU adapter');
  });
});
