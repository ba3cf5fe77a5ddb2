import { setTimeout as sleep } from 'node:timers/promises';
import { forEachAtOnce } from '../../src/runtime/pool.js';

describe('forEachAtOnce', () => {
  test('runs every item, starting them in order, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    await forEachAtOnce([30, 5, 5, 20, 5, 5], 2, async (ms) => {
      started.push(ms);
      most = Math.max(most, ++running);
      await sleep(ms);
      running--;
    });
    expect(started).toEqual([30, 5, 5, 20, 5, 5]);
    expect(most).toBe(2);
  });

  test('after a failure no new item starts, and the failure is thrown when the running item has ended', async () => {
    const ended: string[] = [];
    const run = forEachAtOnce(['slow', 'fails', 'never'], 2, async (item) => {
      if (item === 'fails') throw new Error('sub-02 failed');
      await sleep(20);
      ended.push(item);
    });
    await expect(run).rejects.toThrow('sub-02 failed');
    expect(ended).toEqual(['slow']);
  });
});
