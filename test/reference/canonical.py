#!/usr/bin/python3
"""nibabel.as_closest_canonical of a file: prints the canonical affine, shape, data (F order) and axis codes."""
import json
import sys

import nibabel as nib
import numpy as np

img = nib.load(sys.argv[1])
can = nib.as_closest_canonical(img)
json.dump({
    'codes': ''.join(nib.aff2axcodes(img.affine)),
    'shape': list(can.shape),
    'affine': can.affine.tolist(),
    'data': np.asarray(can.dataobj, dtype=np.float64).ravel(order='F').tolist(),
}, sys.stdout)
