#!/usr/bin/python3
"""Writes the NIfTI and resampling fixtures with nibabel and scipy (Debian python3-nibabel, python3-scipy).

Run from the repository root: /usr/bin/python3 test/reference/make_io_fixtures.py
Every file is written by nibabel; expected.json records what an independent reader must find in it:
the shape, the datatype, the voxel values (Fortran order, as stored) after scl scaling, and the affine
by the NIfTI standard's precedence (sform if sform_code > 0, else qform, else pixdim alone).
"""
import json
import os

import nibabel as nib
import numpy as np
from scipy.ndimage import map_coordinates

rng = np.random.default_rng(20221128)
out_dir = 'fixtures/nifti'
os.makedirs(out_dir, exist_ok=True)
expected = {}


def rotation(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def standard_affine(img):
    hdr = img.header
    scode, qcode = int(hdr['sform_code']), int(hdr['qform_code'])
    if scode > 0:
        return hdr.get_sform()
    if qcode > 0:
        return hdr.get_qform()
    zooms = hdr['pixdim'][1:4]
    return np.diag([zooms[0], zooms[1], zooms[2], 1.0])


def record(name, img):
    path = os.path.join(out_dir, name)
    nib.save(img, path)
    back = nib.load(path)
    data = np.asarray(back.dataobj)
    scaled = back.get_fdata() if back.header.get_slope_inter()[0] not in (None, 1.0) else data
    expected[name] = {
        'shape': list(back.shape),
        'datatype': str(back.get_data_dtype()),
        'qform_code': int(back.header['qform_code']),
        'sform_code': int(back.header['sform_code']),
        'affine': standard_affine(back).tolist(),
        'qform': back.header.get_qform().tolist(),
        'data': np.asarray(scaled, dtype=np.float64).ravel(order='F').tolist(),
    }


def affine_with(rot, zooms, offset):
    a = np.eye(4)
    a[:3, :3] = rot @ np.diag(zooms)
    a[:3, 3] = offset
    return a


shape = (5, 6, 7)
for dtype in ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64']:
    info = np.iinfo(dtype) if np.issubdtype(np.dtype(dtype), np.integer) else None
    if info:
        values = rng.integers(max(info.min, -1000), min(info.max, 1000) + 1, size=shape).astype(dtype)
        values.flat[0], values.flat[1] = info.min, info.max
    else:
        values = rng.normal(size=shape).astype(dtype) * 100
    img = nib.Nifti1Image(values, affine_with(rotation(0.1, -0.2, 0.3), [1.0, 1.2, 2.5], [-10.5, 20.25, 3.0]))
    img.set_data_dtype(dtype)
    img.header.set_slope_inter(1.0, 0.0)
    record(f'dtype_{dtype}.nii.gz', img)

# sform only (qform_code 0), with shear: the sform must be used as stored
sheared = affine_with(np.eye(3), [2.0, 2.0, 3.0], [1.0, 2.0, 3.0])
sheared[0, 1] = 0.3
img = nib.Nifti1Image(rng.normal(size=shape).astype('float32'), sheared)
img.set_qform(None, code=0)
img.set_sform(sheared, code=2)
record('sform_only.nii', img)

# qform only with qfac = -1 (left-handed grid), sform_code 0
left = affine_with(rotation(0.2, 0.1, -0.4), [1.5, 1.0, 2.0], [30.0, -40.0, 12.0])
left[:3, 2] *= -1
img = nib.Nifti1Image(rng.integers(0, 300, size=shape).astype('int16'), left)
img.set_sform(None, code=0)
img.set_qform(left, code=1)
assert img.header['pixdim'][0] == -1, 'qfac should be -1'
record('qform_only_qfac.nii.gz', img)

# qform and sform with different matrices: sform wins
img = nib.Nifti1Image(rng.normal(size=shape).astype('float32'), np.eye(4))
img.set_qform(affine_with(np.eye(3), [1, 1, 1], [5, 5, 5]), code=1)
img.set_sform(affine_with(rotation(0, 0, 0.5), [1, 1, 1], [-5, 7, 9]), code=4)
record('sform_over_qform.nii.gz', img)

# pixdim only: both codes 0
img = nib.Nifti1Image(rng.integers(0, 255, size=shape).astype('uint8'), np.diag([0.8, 0.9, 1.1, 1]))
img.set_qform(None, code=0)
img.set_sform(None, code=0)
img.header['pixdim'][1:4] = [0.8, 0.9, 1.1]
record('pixdim_only.nii.gz', img)

# scl_slope / scl_inter applied
img = nib.Nifti1Image(rng.integers(-100, 100, size=shape).astype('int16'), np.eye(4))
img.header.set_slope_inter(2.5, -3.0)
img.set_data_dtype('int16')
nib.save(img, os.path.join(out_dir, 'scaled_int16.nii.gz'))
raw = nib.load(os.path.join(out_dir, 'scaled_int16.nii.gz'))
expected['scaled_int16.nii.gz'] = {
    'shape': list(raw.shape), 'datatype': 'int16', 'qform_code': int(raw.header['qform_code']),
    'sform_code': int(raw.header['sform_code']), 'affine': standard_affine(raw).tolist(),
    'qform': raw.header.get_qform().tolist(),
    'data': (np.asarray(raw.dataobj.get_unscaled(), dtype=np.float64) * 2.5 - 3.0).ravel(order='F').tolist(),
}

# 4D float64, big-endian int32, NIfTI-2
record('four_d.nii.gz', nib.Nifti1Image(rng.normal(size=(4, 3, 5, 3)), affine_with(np.eye(3), [2, 2, 2], [0, 0, 0])))
big = nib.Nifti1Image(rng.integers(-5000, 5000, size=shape).astype('>i4'), affine_with(rotation(0.3, 0, 0), [1, 1, 1], [1, 1, 1]),
                      header=nib.Nifti1Header(endianness='>'))
record('big_endian.nii', big)
assert open(os.path.join(out_dir, 'big_endian.nii'), 'rb').read(4) == (348).to_bytes(4, 'big')
record('nifti2.nii.gz', nib.Nifti2Image(rng.integers(0, 60000, size=shape).astype('uint16'), affine_with(rotation(0, 0.2, 0), [1, 2, 3], [4, 5, 6])))

with open(os.path.join(out_dir, 'expected.json'), 'w') as f:
    json.dump(expected, f)

# ---- resampling onto a rotated, shifted grid (scipy map_coordinates, mode constant, cval 0)
res_dir = 'fixtures/resample'
os.makedirs(res_dir, exist_ok=True)
src_shape = (20, 22, 18)
src_affine = affine_with(rotation(0.05, 0, 0.1), [1.2, 1.0, 1.5], [-12.0, -11.0, -13.0])
ii, jj, kk = np.meshgrid(*[np.arange(n) for n in src_shape], indexing='ij')
labels = np.zeros(src_shape, dtype='uint8')
centre = np.array(src_shape) / 2
for value, (dx, dy, dz, r) in enumerate([(0, 0, 0, 5.5), (-4, 3, 2, 3.2), (4, -3, -2, 3.7), (0, 5, -3, 2.6)], start=1):
    labels[((ii - centre[0] - dx) ** 2 + (jj - centre[1] - dy) ** 2 + (kk - centre[2] - dz) ** 2) < r * r] = value
image = (np.sin(ii / 3.0) + np.cos(jj / 4.0) * kk / 10.0).astype('float32')
nib.save(nib.Nifti1Image(labels, src_affine), os.path.join(res_dir, 'labels.nii.gz'))
nib.save(nib.Nifti1Image(image, src_affine), os.path.join(res_dir, 'image.nii.gz'))
tgt_shape = (17, 19, 21)
tgt_affine = affine_with(rotation(0.3, -0.25, 0.4), [1.1, 1.3, 0.9], [-9.3, -10.7, -8.1])
vox = np.meshgrid(*[np.arange(n) for n in tgt_shape], indexing='ij')
points = np.stack([v.ravel() for v in vox] + [np.ones(vox[0].size)])
coords = (np.linalg.inv(src_affine) @ tgt_affine @ points)[:3]
frac = np.abs(coords - np.floor(coords) - 0.5)
assert frac.min() > 1e-6, 'a nearest-neighbour tie would make the fixture ambiguous'
nearest = map_coordinates(labels, coords, order=0, mode='constant', cval=0).reshape(tgt_shape)
linear = map_coordinates(image.astype(np.float64), coords, order=1, mode='constant', cval=0).reshape(tgt_shape)
nib.save(nib.Nifti1Image(nearest.astype('uint8'), tgt_affine), os.path.join(res_dir, 'labels_expected.nii.gz'))
nib.save(nib.Nifti1Image(linear.astype('float32'), tgt_affine), os.path.join(res_dir, 'image_expected.nii.gz'))
print('fixtures written; labels kept:', sorted(set(np.unique(nearest)) - {0}))
