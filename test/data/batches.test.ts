import { REFERENCE_AUGMENT } from '../../src/data/augment.js';
import { batchSource, type BatchStream, type StepBatches } from '../../src/data/batches.js';
import type { Subject } from '../../src/data/study.js';
import { Random } from '../../src/runtime/random.js';

/** Two subjects of three sessions, 24×28×20 voxels of noise with random labels, in shared memory as loadSubjects makes them. */
function subjects(): Subject[] {
  const random = new Random(5);
  const shape: [number, number, number] = [24, 28, 20];
  const voxels = shape[0] * shape[1] * shape[2];
  const shared = <T extends Float32Array | Uint8Array>(array: T): T => {
    const copy = new (array.constructor as new (buffer: SharedArrayBuffer) => T)(
      new SharedArrayBuffer(array.byteLength),
    );
    copy.set(array);
    return copy;
  };
  return ['01', '02'].map((id) => ({
    id,
    sessions: ['1', '2', '3'].map((session) => ({
      subject: id,
      session,
      shape,
      channels: [shared(Float32Array.from({ length: voxels }, () => random.next()))],
      label: shared(Uint8Array.from({ length: voxels }, () => random.integer(0, 4))),
    })),
  }));
}

const augment = {
  ...REFERENCE_AUGMENT,
  flip: { p: 0.5 },
  affine: { p: 0.5, scale: 0.1, degrees: 10 },
  noise: { p: 0.5, std: 0.1 },
};
const streams = (data: Subject[], schedule?: BatchStream['schedule']): BatchStream[] => [
  {
    kind: 'labelled',
    count: 2,
    subjects: data,
    options: { crop: 16, pairing: 'any', augment, oversampleForeground: 0.5, insideHead: true },
  },
  {
    kind: 'pairs',
    count: 1,
    subjects: data,
    options: { crop: 16, pairing: 'any', augment, insideHead: true },
    schedule,
  },
];

/** Every array of a step's batches, in order. */
const arrays = (batches: StepBatches) =>
  batches.flatMap((batch) =>
    !batch ? [] : 'labels' in batch ? [batch.input.data, batch.labels] : [batch.input.data, batch.target.data],
  );

async function draw(
  prefetch: number,
  steps: number[],
  data = subjects(),
  schedule?: BatchStream['schedule'],
): Promise<StepBatches[]> {
  const source = batchSource(streams(data, schedule), 9, prefetch);
  try {
    const drawn: StepBatches[] = [];
    for (const step of steps) drawn.push(await source.next(step));
    return drawn;
  } finally {
    await source.close();
  }
}

describe('training batches prepared ahead on a data worker', () => {
  test('prefetch 2 on a worker gives bitwise the batches drawn in line, step by step', async () => {
    const steps = [0, 1, 2, 3, 4, 5];
    const [inline, ahead] = await Promise.all([draw(0, steps), draw(2, steps)]);
    for (const [n, batches] of inline.entries()) expect(arrays(ahead[n])).toEqual(arrays(batches));
    // the steps differ: the comparison above is not of constant batches
    expect(arrays(inline[1])[0]).not.toEqual(arrays(inline[0])[0]);
    expect(arrays(inline[0])).toHaveLength(4);
  });

  test('a source started at step 3 (as --resume does) draws the same steps 3–5', async () => {
    const [whole, resumed] = await Promise.all([draw(2, [0, 1, 2, 3, 4, 5]), draw(2, [3, 4, 5])]);
    resumed.forEach((batches, n) => expect(arrays(batches)).toEqual(arrays(whole[n + 3])));
  });

  test('a scheduled stream is drawn only at its steps, and every batch drawn is the one drawn without the schedule', async () => {
    const steps = [0, 1, 2, 3, 4, 5];
    const [always, scheduled] = await Promise.all([draw(2, steps), draw(2, steps, subjects(), { from: 1, every: 2 })]);
    expect(scheduled.map((batches) => batches[1] !== undefined)).toEqual([false, true, false, true, false, true]);
    for (const step of steps) {
      expect(arrays([scheduled[step][0]])).toEqual(arrays([always[step][0]]));
      if (scheduled[step][1]) expect(arrays([scheduled[step][1]])).toEqual(arrays([always[step][1]]));
    }
  });

  test('an error while drawing on the worker rejects the step with the data worker named', async () => {
    // pairs need a subject with two sessions: none here
    const single = subjects().map((subject) => ({ ...subject, sessions: subject.sessions.slice(0, 1) }));
    await expect(draw(2, [0], single)).rejects.toThrow(/^data worker, step 1: /);
  });
});
