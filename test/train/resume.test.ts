import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.js';
import { PretrainModel } from '../../src/train/pretrain-model.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../../src/train/training-checkpoint.js';
import { Adam } from '../../src/train/adam.js';
import { Random } from '../../src/runtime/random.js';
import { makeTempDir } from '../helpers.js';

const unetConfig = { inputChannels: 1, outputClasses: 3, baseWidth: 2, depth: 4 };
const heads = { width: 16, bottleneck: 4 };

function build(seed: number): { model: PretrainModel; optimizer: Adam } {
  const model = new PretrainModel(unetConfig, heads, undefined, new Random(seed));
  return { model, optimizer: new Adam(model.trainableVariables()) };
}

describe('pretraining checkpoints resume exactly', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());

  test('a step after save and load equals the step the original run takes', async () => {
    await initBackend('wasm');
    const input = tf.randomNormal([2, 32, 32, 32, 1], 0, 1, 'float32', 7) as tf.Tensor5D;
    const original = build(1);
    await original.model.step(input, input, original.optimizer, 16, new Random(10));
    const path = join(dir.path, 'latest.safetensors');
    await saveTrainingCheckpoint(path, original.model, original.optimizer, { preset: 'test', crop: 32 });

    const resumed = build(2);
    expect(
      JSON.parse((await loadTrainingCheckpoint(path, resumed.model, resumed.optimizer, new Random(3))).metadata.config),
    ).toEqual({ preset: 'test', crop: 32 });
    expect(resumed.optimizer.stepCount).toBe(1);

    const a = await original.model.step(input, input, original.optimizer, 16, new Random(11));
    const b = await resumed.model.step(input, input, resumed.optimizer, 16, new Random(11));
    expect([...b]).toEqual([...a]);
    const weights = (model: PretrainModel) =>
      model.trainableVariables().map((v) => Array.from(v.dataSync() as Float32Array));
    expect(weights(resumed.model)).toEqual(weights(original.model));
  }, 120_000);

  test('a file that is not a pretraining checkpoint is refused by name', async () => {
    const path = join(dir.path, 'other.safetensors');
    const header = JSON.stringify({ __metadata__: { format: 'something-else' } });
    const bytes = Buffer.alloc(8 + header.length);
    bytes.writeBigUInt64LE(BigInt(header.length));
    bytes.write(header, 8);
    writeFileSync(path, bytes);
    const { model, optimizer } = build(4);
    await expect(loadTrainingCheckpoint(path, model, optimizer, new Random(0))).rejects.toThrow(
      `${path}: is not a longiseg pretraining checkpoint`,
    );
  });
});
