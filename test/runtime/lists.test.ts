import { describe, expect, test } from '@jest/globals';
import { commaList } from '../../src/runtime/lists.js';

describe('commaList', () => {
  test('splits, trims and drops empty items', () => {
    expect(commaList(' sub-01:ses-03, sub-02 ,,')).toEqual(['sub-01:ses-03', 'sub-02']);
    expect(commaList('')).toEqual([]);
  });

  test('takes another separator', () => {
    expect(commaList('96x 112×96', /[,x×]/).map(Number)).toEqual([96, 112, 96]);
  });
});
