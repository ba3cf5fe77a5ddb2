import { learningRateFactor, parseDuration } from '../../src/train/schedule.js';
import { resolveShard, selectShard } from '../../src/runtime/shard.js';
import { UsageError } from '../../src/runtime/errors.js';

describe('the const_linear schedule in steps', () => {
  test('constant, then linear down to 1/(decay + 1), as the reference per epoch', () => {
    // the reference with n_epochs 2, n_epochs_decay 3: 1, 1, 1, 0.75, 0.5, 0.25
    expect([0, 1, 2, 3, 4, 5].map((step) => learningRateFactor(step, 2, 5))).toEqual([1, 1, 1, 0.75, 0.5, 0.25]);
  });
});

describe('wall-clock limits', () => {
  test.each([
    ['90', 5400],
    ['2h', 7200],
    ['1h30m', 5400],
    ['45s', 45],
    ['02:00:00', 7200],
    ['30:00', 1800],
    ['1-12:00:00', 129600],
  ])('%s is %i s', (text, seconds) => expect(parseDuration(text)).toBe(seconds));
  test('unreadable text is undefined', () => expect(parseDuration('soon')).toBeUndefined());
});

describe('shards', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];
  test('--shard i/n takes i, i+n, …; all shards cover every item once', () => {
    const parts = [0, 1, 2].map((i) => selectShard(items, resolveShard(`${i}/3`, {})));
    expect(parts).toEqual([['a', 'd'], ['b', 'e'], ['c']]);
  });
  test('SLURM arrays counted from 1 and with steps map onto 0…n−1', () => {
    expect(
      resolveShard(undefined, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }),
    ).toMatchObject({ index: 0, count: 4 });
    expect(
      resolveShard(undefined, {
        SLURM_ARRAY_TASK_ID: '6',
        SLURM_ARRAY_TASK_COUNT: '4',
        SLURM_ARRAY_TASK_MIN: '0',
        SLURM_ARRAY_TASK_STEP: '2',
      }),
    ).toMatchObject({ index: 3, count: 4 });
    expect(resolveShard(undefined, {})).toBeUndefined();
  });
  test('a flag wins over the environment; a bad one is a usage error', () => {
    expect(resolveShard('1/2', { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '4' })).toMatchObject({
      index: 1,
      count: 2,
    });
    expect(() => resolveShard('3/3', {})).toThrow(UsageError);
    expect(() => resolveShard('x', {})).toThrow('i counts from 0');
  });
});
