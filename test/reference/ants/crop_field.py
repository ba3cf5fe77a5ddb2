"""crop_field.py WORK OUT: an 8³ block inside the head of WORK/work-syn/field.nii.gz and of WORK/fixed.nii.gz, headers kept."""
import sys

import nibabel as nib

work, out = sys.argv[1], sys.argv[2]
block = (slice(20, 28), slice(28, 36), slice(20, 28))
for source, target in (('work-syn/field.nii.gz', 'syn_field_block.nii.gz'), ('fixed.nii.gz', 'fixed_block.nii.gz')):
    image = nib.load(f'{work}/{source}')
    nib.save(image.slicer[block], f'{out}/{target}')
