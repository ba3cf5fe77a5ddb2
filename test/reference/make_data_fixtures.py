#!/usr/bin/python3
"""Reference values for the training augmentations (numpy, scipy from Debian).

Run from the repository root: /usr/bin/python3 test/reference/make_data_fixtures.py
- blur: scipy.ndimage.gaussian_filter (truncate 4, mode reflect), as TorchIO's RandomBlur;
- motion: TorchIO's k-space splice done as TorchIO does it, with a 3D FFT: fftshift(fftn) of each
  image, the still image (index 0) filling the segment of the last axis that holds the centre, the
  moved images the others in order, real part of ifftn(ifftshift(.)).
Arrays are flattened x fastest (Fortran order), as longiseg stores voxels.
"""
import json
import os

import numpy as np
from scipy.ndimage import gaussian_filter

rng = np.random.default_rng(20221209)
out = {}

shape = (9, 7, 8)
x = rng.normal(size=shape).astype(np.float32)
out['blur'] = {'shape': list(shape), 'input': x.flatten(order='F').tolist(), 'cases': []}
for sigmas in ((0.7, 1.3, 0.0), (2.0, 0.4, 1.1)):
    out['blur']['cases'].append({'sigmas': list(sigmas), 'output': gaussian_filter(x.astype(np.float64), sigmas, mode='reflect', truncate=4.0).flatten(order='F').tolist()})

shape = (5, 4, 12)
images = [rng.normal(size=shape) for _ in range(3)]
times = [0.3, 0.71]
spectra = [np.fft.fftshift(np.fft.fftn(im)) for im in images]
n = shape[-1]
bounds = [0] + [int(t * n) for t in times] + [n]
centre = n // 2
result = np.empty_like(spectra[0])
moved = 1
for s in range(len(bounds) - 1):
    source = 0 if bounds[s] <= centre < bounds[s + 1] else moved
    if source:
        moved += 1
    result[..., bounds[s]:bounds[s + 1]] = spectra[source][..., bounds[s]:bounds[s + 1]]
spliced = np.real(np.fft.ifftn(np.fft.ifftshift(result)))
out['motion'] = {'shape': list(shape), 'times': times, 'images': [im.flatten(order='F').tolist() for im in images], 'output': spliced.flatten(order='F').tolist()}

os.makedirs('fixtures/data', exist_ok=True)
with open('fixtures/data/augment.json', 'w') as f:
    json.dump(out, f)
