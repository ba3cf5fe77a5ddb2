#!/usr/bin/env python3
"""Reference p-values of the paired tests, computed with scipy.stats.ttest_rel and scipy.stats.wilcoxon
(two-sided, defaults: zero_method 'wilcox', no continuity correction, method 'auto').

Needs scipy >= 1.13 (the committed file: 1.17): older versions, Debian bookworm's 1.10 among them,
truncate tied rank sums to integers in the exact test (scipy gh-19872) and give other p-values for the
cases with ties. The cases without ties agree with Debian's scipy.

Run from the repository root: python3 test/reference/make_stats_fixtures.py
"""
import json

import numpy as np
from scipy import stats

import scipy
assert tuple(int(v) for v in scipy.__version__.split('.')[:2]) >= (1, 13), f'scipy {scipy.__version__}: needs >= 1.13'

rng = np.random.default_rng(11)
cases = {
    'five seeds, no ties': (rng.normal(0.84, 0.02, 5), rng.normal(0.83, 0.02, 5)),
    'ten seeds, a clear difference': (rng.normal(0.94, 0.01, 10), rng.normal(0.92, 0.01, 10)),
    'ties and a zero difference': ([0.80, 0.82, 0.85, 0.83, 0.90, 0.70, 0.75], [0.78, 0.80, 0.85, 0.81, 0.88, 0.73, 0.72]),
    'thirty, no ties (exact)': (rng.normal(0, 1, 30), rng.normal(0.3, 1, 30)),
    'twenty with ties (normal approximation)': (np.round(rng.normal(0, 1, 20), 1), np.round(rng.normal(0.5, 1, 20), 1)),
    'two values': ([0.5, 0.7], [0.4, 0.4]),
}
out = []
for name, (a, b) in cases.items():
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = stats.ttest_rel(a, b)
    w = stats.wilcoxon(a, b)
    out.append({'name': name, 'a': a.tolist(), 'b': b.tolist(), 't': float(t.statistic), 't_p': float(t.pvalue),
                'wilcoxon_statistic': float(w.statistic), 'wilcoxon_p': float(w.pvalue)})
with open('fixtures/metrics/paired_tests.json', 'w') as f:
    json.dump({'scipy': __import__('scipy').__version__, 'cases': out}, f, indent=1)
