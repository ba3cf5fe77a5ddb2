#!/usr/bin/python3
"""The metrics of `longiseg evaluate` computed with scipy, for the bench: same definitions, per case.

usage: reference_metrics.py crop|whole PRED REF [PRED REF ...]
crop: distance transforms on the bounding box of both masks (the algorithm longiseg uses);
whole: on the whole volume (as medpy and many scripts do). Prints JSON {seconds: [...], hd95: [...]}.
"""
import json
import sys
import time

import nibabel as nib
import numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure

STRUCT = generate_binary_structure(3, 1)


def hd95(p, r, spacing):
    sp = p & ~binary_erosion(p, STRUCT, border_value=0)
    sr = r & ~binary_erosion(r, STRUCT, border_value=0)
    a = distance_transform_edt(~sr, sampling=spacing)[sp]
    b = distance_transform_edt(~sp, sampling=spacing)[sr]
    return max(np.percentile(a, 95), np.percentile(b, 95))


mode, files = sys.argv[1], sys.argv[2:]
seconds, values = [], []
for pred_path, ref_path in zip(files[::2], files[1::2]):
    start = time.perf_counter()
    ref_img = nib.load(ref_path)
    pred, ref = np.asarray(nib.load(pred_path).dataobj), np.asarray(ref_img.dataobj)
    spacing = ref_img.header.get_zooms()[:3]
    case = {}
    for label in sorted(set(np.unique(ref)) - {0}):
        p, r = pred == label, ref == label
        tp = int((p & r).sum())
        dice = 2 * tp / (p.sum() + r.sum())
        if mode == 'crop':
            idx = np.argwhere(p | r)
            lo, hi = idx.min(0), idx.max(0) + 1
            box = tuple(slice(a, b) for a, b in zip(lo, hi))
            p, r = p[box], r[box]
        case[int(label)] = (dice, hd95(p, r, spacing))
    seconds.append(time.perf_counter() - start)
    values.append({str(k): v[1] for k, v in case.items()})
print(json.dumps({'seconds': seconds, 'hd95': values}))
