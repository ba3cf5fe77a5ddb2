import { readFileSync } from 'node:fs';
import { pairedTTest, regularisedBeta, wilcoxonSignedRank } from '../../src/metrics/paired-tests.js';
import { fixture } from '../helpers.js';

interface Case {
  name: string;
  a: number[];
  b: number[];
  t: number;
  t_p: number;
  wilcoxon_statistic: number;
  wilcoxon_p: number;
}

// scipy.stats.ttest_rel and wilcoxon (test/reference/make_stats_fixtures.py)
const { cases } = JSON.parse(readFileSync(fixture('metrics', 'paired_tests.json'), 'utf8')) as { cases: Case[] };

describe('paired tests against scipy', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const t = pairedTTest(c.a, c.b);
    expect(t.t).toBeCloseTo(c.t, 9);
    expect(t.p).toBeCloseTo(c.t_p, 9);
    const w = wilcoxonSignedRank(c.a, c.b);
    expect(w.statistic).toBe(c.wilcoxon_statistic);
    expect(w.p).toBeCloseTo(c.wilcoxon_p, 9);
  });

  test('the incomplete beta at known points: I_x(1, 1) = x, I_x(a, b) = 1 − I_{1−x}(b, a), I_½(a, a) = ½', () => {
    expect(regularisedBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(regularisedBeta(0.2, 2.5, 4)).toBeCloseTo(1 - regularisedBeta(0.8, 4, 2.5), 12);
    expect(regularisedBeta(0.5, 3.5, 3.5)).toBeCloseTo(0.5, 12);
  });

  test('no difference at all: p is NaN, not a claim; a constant difference: p 0, as scipy', () => {
    expect(pairedTTest([0.8, 0.8, 0.8], [0.8, 0.8, 0.8]).p).toBeNaN();
    expect(pairedTTest([1, 2, 3], [2, 3, 4])).toEqual({ t: -Infinity, p: 0 });
    expect(wilcoxonSignedRank([0.8, 0.8], [0.8, 0.8]).p).toBeNaN();
  });
});
