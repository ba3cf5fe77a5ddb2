"""known_pair.py IMAGE WORK: WORK/fixed.nii.gz (IMAGE), WORK/moving.nii.gz (its voxels under W·affine), WORK/W.txt."""
import sys

import nibabel as nib
import numpy as np

image, work = nib.load(sys.argv[1]), sys.argv[2]
angle = np.deg2rad(4.0)
W = np.array([[np.cos(angle), -np.sin(angle), 0, 6.0], [np.sin(angle), np.cos(angle), 0, -4.5], [0, 0, 1, 3.0], [0, 0, 0, 1]])
data = np.asanyarray(image.dataobj)
for name, affine in (('fixed', image.affine), ('moving', W @ image.affine)):
    out = nib.Nifti1Image(data, affine)
    out.set_qform(affine, 1)
    out.set_sform(affine, 1)
    nib.save(out, f'{work}/{name}.nii.gz')
np.savetxt(f'{work}/W.txt', W)
