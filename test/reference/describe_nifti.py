#!/usr/bin/python3
"""Prints what nibabel reads from NIfTI files as JSON: used by the tests to check files longiseg wrote."""
import json
import sys

import nibabel as nib
import numpy as np

result = {}
for path in sys.argv[1:]:
    img = nib.load(path)
    hdr = img.header
    data = np.asanyarray(img.dataobj)
    result[path] = {
        'shape': list(img.shape),
        'datatype': str(img.get_data_dtype()),
        'qform_code': int(hdr['qform_code']),
        'sform_code': int(hdr['sform_code']),
        'affine': img.affine.tolist(),
        'qform': hdr.get_qform().tolist(),
        'sform': hdr.get_sform().tolist(),
        'zooms': [float(z) for z in hdr.get_zooms()],
        'xyzt_units': list(hdr.get_xyzt_units()),
        'data': np.asarray(data, dtype=np.float64).ravel(order='F').tolist(),
    }
json.dump(result, sys.stdout)
