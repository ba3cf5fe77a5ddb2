#!/usr/bin/python3
"""Reads every NIfTI file of a tree with nibabel and reports, as JSON, what a consistent study must satisfy."""
import json
import os
import sys

import nibabel as nib
import numpy as np

report = {'files': 0, 'problems': [], 'affines': {}}
for folder, _, names in os.walk(sys.argv[1]):
    for name in sorted(names):
        if not name.endswith('.nii.gz'):
            continue
        path = os.path.join(folder, name)
        img = nib.load(path)
        data = np.asanyarray(img.dataobj)
        report['files'] += 1
        qform, sform = img.header.get_qform(), img.header.get_sform()
        if not np.allclose(qform, sform, atol=1e-4):
            report['problems'].append(f'{path}: qform and sform differ')
        if np.linalg.det(img.affine[:3, :3]) <= 0:
            report['problems'].append(f'{path}: left-handed affine')
        if not np.all(np.isfinite(data)):
            report['problems'].append(f'{path}: non-finite voxels')
        kind = 'field' if 'displacement' in name else 'dseg' if name.endswith('_dseg.nii.gz') else 'T1w'
        if kind == 'field' and (data.ndim != 4 or data.shape[3] != 3):
            report['problems'].append(f'{path}: a displacement field must be 4D with 3 components')
        report['affines'].setdefault(json.dumps(np.round(img.affine, 4).tolist()), []).append(kind)
json.dump(report, sys.stdout)
