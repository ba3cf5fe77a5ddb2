#!/usr/bin/python3
"""ANTs-style affine transform files and the RAS matrices they stand for, from scipy and numpy.

Run from the repository root: /usr/bin/python3 test/reference/make_registration_fixtures.py
- ants_0GenericAffine.mat / ants_float_0GenericAffine.mat: MATLAB v4 files as ITK's MatlabTransformIO
  writes them (antsRegistration's *0GenericAffine.mat): a 12x1 `AffineTransform_double_3_3` (or
  `_float_3_3`, single precision) holding the 3x3 matrix row by row then the translation, and a 3x1
  `fixed` holding the centre of rotation; written by scipy.io.savemat(format='4').
- expected.json: the map fixed point -> moving point as a 4x4 in RAS world coordinates, computed
  from ITK's definition x -> A (x - c) + c + t in LPS, converted with diag(-1, -1, 1).
"""
import json
import os

import numpy as np
from scipy.io import savemat

out = 'fixtures/registration'
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
A = np.eye(3) + rng.uniform(-0.1, 0.1, (3, 3))
t = rng.uniform(-5, 5, 3)
c = rng.uniform(-20, 20, 3)
parameters = np.concatenate([A.reshape(-1), t])

lps = np.eye(4)
lps[:3, :3] = A
lps[:3, 3] = t + c - A @ c
flip = np.diag([-1.0, -1.0, 1.0, 1.0])
ras = flip @ lps @ flip

savemat(f'{out}/ants_0GenericAffine.mat', {'AffineTransform_double_3_3': parameters.reshape(12, 1), 'fixed': c.reshape(3, 1)}, format='4')
savemat(f'{out}/ants_float_0GenericAffine.mat', {'AffineTransform_float_3_3': parameters.reshape(12, 1).astype(np.float32), 'fixed': c.reshape(3, 1).astype(np.float32)}, format='4')
with open(f'{out}/expected.json', 'w') as f:
    json.dump({'ras': ras.tolist(), 'parameters': parameters.tolist(), 'centre': c.tolist()}, f, indent=1)
    f.write('\n')
