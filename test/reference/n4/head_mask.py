#!/usr/bin/python3
"""The head mask longiseg's bias correction uses: voxels above a tenth of the 99th percentile (numpy's
linear interpolation) of the image, and above 0. Usage: head_mask.py IMAGE MASK_OUT"""
import sys

import nibabel as nib
import numpy as np

image = nib.load(sys.argv[1])
data = np.asarray(image.dataobj, dtype=np.float32)
threshold = np.float32(0.1) * np.float32(np.percentile(data, 99))
mask = ((data > threshold) & (data > 0)).astype(np.uint8)
nib.save(nib.Nifti1Image(mask, image.affine, image.header), sys.argv[2])
