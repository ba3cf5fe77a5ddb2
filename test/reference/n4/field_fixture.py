#!/usr/bin/python3
"""ITK's log bias field at every head voxel whose indices are all multiples of 2, as JSON: the flat
indices (x fastest) and the field there, centred to mean 0 over those voxels.
Usage: field_fixture.py MASK LOG_FIELD OUT.json"""
import json
import sys

import nibabel as nib
import numpy as np

mask = np.asarray(nib.load(sys.argv[1]).dataobj)
field = np.asarray(nib.load(sys.argv[2]).dataobj, dtype=np.float64)
keep = np.zeros_like(mask, dtype=bool)
keep[::2, ::2, ::2] = True
keep &= mask > 0
flat = np.flatnonzero(keep.ravel(order='F'))
values = field.ravel(order='F')[flat]
values -= values.mean()
json.dump({
    'source': 'ITK 5.2 N4BiasFieldCorrectionImageFilter: 4 levels x 50 iterations, convergence 1e-7, '
              '200 mm spline distance, cubic, no shrinking, mask of head_mask.py',
    'indices': flat.tolist(),
    'log_field': [round(v, 6) for v in values.tolist()],
}, open(sys.argv[3], 'w'))
