"""Slices of a NIfTI image and label map as longiseg's reports draw them, computed with nibabel and numpy.

make IMAGE LABELS: writes a 20x24x16 image in LIA voxel order (not RAS) with 1 mm voxels and a label
map of three boxes on the same grid.
slices IMAGE LABELS CONVENTION: prints JSON with, per view (sagittal, coronal, axial), the gray
levels of the image and the labels of the slice through the labels' centroid, rows from the top.
"""
import json
import sys

import nibabel as nib
import numpy as np


def make(image_path, labels_path):
    rng = np.random.default_rng(3)
    shape = (20, 24, 16)
    # voxel axes: i runs to the left, j inferior, k anterior (LIA)
    affine = np.array([[-1.0, 0, 0, 10], [0, 0, 1, -8], [0, -1, 0, 12], [0, 0, 0, 1]])
    image = rng.uniform(10, 200, size=shape).astype(np.float32)
    image[:2] = 0
    labels = np.zeros(shape, np.uint8)
    labels[3:9, 4:10, 2:7] = 1
    labels[11:17, 5:12, 6:12] = 2
    labels[6:12, 14:20, 9:14] = 3
    nib.save(nib.Nifti1Image(image, affine), image_path)
    nib.save(nib.Nifti1Image(labels, affine), labels_path)


def view(volume, name, centre, convention):
    i, j, k = centre
    if name == 'axial':
        picture = volume[:, :, k].T[::-1]
    elif name == 'coronal':
        picture = volume[:, j, :].T[::-1]
    else:
        picture = volume[i, :, :].T[::-1]
    if name != 'sagittal' and convention == 'radiological':
        picture = picture[:, ::-1]
    return picture


def slices(image_path, labels_path, convention):
    image = np.asarray(nib.as_closest_canonical(nib.load(image_path)).dataobj, dtype=np.float32)
    labels = np.asarray(nib.as_closest_canonical(nib.load(labels_path)).dataobj)
    nonzero = image[image != 0].astype(np.float64)
    low, high = np.percentile(nonzero, [0.5, 99.5])
    gray = np.clip(np.floor(255 * (image - low) / (high - low) + 0.5), 0, 255)
    centre = [int(np.floor(c.mean() + 0.5)) for c in np.nonzero(labels)]
    result = {'centre': centre}
    for name in ('sagittal', 'coronal', 'axial'):
        result[name] = {
            'gray': view(gray, name, centre, convention).astype(int).tolist(),
            'labels': view(labels, name, centre, convention).astype(int).tolist(),
        }
    print(json.dumps(result))


if __name__ == '__main__':
    if sys.argv[1] == 'make':
        make(sys.argv[2], sys.argv[3])
    else:
        slices(sys.argv[2], sys.argv[3], sys.argv[4])
