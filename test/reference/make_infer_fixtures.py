#!/usr/bin/python3
"""Reference values for sliding-window inference, computed as nnU-Net v2 computes them (numpy, scipy).

Run from the repository root: /usr/bin/python3 test/reference/make_infer_fixtures.py
- gaussian: nnunetv2.inference.sliding_window_prediction.compute_gaussian (scipy gaussian_filter of a
  delta at the tile centre, sigma = tile/8, max scaled to 10, zeros replaced by the smallest non-zero
  value), flattened x fastest (Fortran order);
- steps: compute_steps_for_sliding_window (numpy round);
- normalisation: the reference's (x - min) / (percentile(x, 99.99) - min);
- largest_component: label maps of smoothed noise, and the same with only the largest 26-connected
  region of classes 1 and 2 kept (scipy.ndimage.label with a 3x3x3 structure), flattened x fastest.
"""
import json
import os

import numpy as np
from scipy.ndimage import gaussian_filter, label


def compute_gaussian(tile_size, sigma_scale=1. / 8, value_scaling_factor=10.):
    tmp = np.zeros(tile_size)
    center_coords = [i // 2 for i in tile_size]
    sigmas = [i * sigma_scale for i in tile_size]
    tmp[tuple(center_coords)] = 1
    gaussian_importance_map = gaussian_filter(tmp, sigmas, 0, mode='constant', cval=0)
    gaussian_importance_map /= (np.max(gaussian_importance_map) / value_scaling_factor)
    mask = gaussian_importance_map == 0
    gaussian_importance_map[mask] = np.min(gaussian_importance_map[~mask])
    return gaussian_importance_map


def compute_steps_for_sliding_window(image_size, tile_size, tile_step_size):
    target_step_sizes_in_voxels = [i * tile_step_size for i in tile_size]
    num_steps = [int(np.ceil((i - k) / j)) + 1 for i, j, k in zip(image_size, target_step_sizes_in_voxels, tile_size)]
    steps = []
    for dim in range(len(tile_size)):
        max_step_value = image_size[dim] - tile_size[dim]
        actual_step_size = max_step_value / (num_steps[dim] - 1) if num_steps[dim] > 1 else 99999999999
        steps.append([int(np.round(actual_step_size * i)) for i in range(num_steps[dim])])
    return steps


rng = np.random.default_rng(20221207)
out = {'gaussian': [], 'steps': [], 'normalisation': []}
for tile in ([16, 24, 32], [8, 8, 8], [5, 7, 9]):
    out['gaussian'].append({'patch': tile, 'map': compute_gaussian(tile).flatten(order='F').tolist()})
for image, tile, step in (([110, 64, 200], [64, 64, 64], 0.5), ([182, 218, 182], [64, 64, 64], 0.5),
                          ([96, 112, 96], [64, 64, 64], 0.75), ([130, 97, 64], [32, 48, 64], 0.25), ([70, 90, 66], [64, 64, 64], 0.5)):
    out['steps'].append({'image': image, 'patch': tile, 'overlap': 1 - step, 'starts': compute_steps_for_sliding_window(image, tile, step)})
for n in (1000, 7):
    x = np.concatenate([rng.gamma(2.0, 100.0, n), [5000.0]]).astype(np.float32)
    p = np.percentile(x, 99.99)
    out['normalisation'].append({'input': x.tolist(), 'output': ((x - x.min()) / (p - x.min())).tolist()})

out['largest_component'] = []
blobs = np.random.default_rng(7)
for shape in ([14, 12, 10], [9, 17, 11]):
    noise = gaussian_filter(blobs.standard_normal(shape), 1.2)
    labels = np.digitize(noise, np.quantile(noise, [0.45, 0.7, 0.85]))
    kept = labels.copy()
    for c in (1, 2):
        regions, count = label(labels == c, structure=np.ones((3, 3, 3)))
        sizes = np.bincount(regions.ravel())[1:]
        assert count > 1 and (sizes == sizes.max()).sum() == 1, 'a tie or a single region tests nothing'
        kept[(regions > 0) & (regions != np.argmax(sizes) + 1)] = 0
    out['largest_component'].append({'shape': shape, 'classes': [1, 2], 'labels': labels.flatten(order='F').tolist(),
                                     'kept': kept.flatten(order='F').tolist()})

os.makedirs('fixtures/infer', exist_ok=True)
with open('fixtures/infer/reference.json', 'w') as f:
    json.dump(out, f)
