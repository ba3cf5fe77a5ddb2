#!/usr/bin/python3
"""Reference values for `longiseg evaluate`, computed independently with numpy/scipy (Debian packages).

Run from the repository root: /usr/bin/python3 test/reference/make_metric_fixtures.py
Definitions (docs/metrics.md): surface = mask XOR binary_erosion(mask, 6-connected,
border_value=0); directed distances from distance_transform_edt(~other_surface, sampling=spacing);
HD95 = max of the two directed 95th percentiles (numpy linear interpolation); Dice/IoU from voxel counts.
"""
import json
import os

import nibabel as nib
import numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure, gaussian_filter

rng = np.random.default_rng(7)
root = 'fixtures/metrics'
STRUCT = generate_binary_structure(3, 1)


def surface(mask):
    return mask & ~binary_erosion(mask, structure=STRUCT, border_value=0)


def hd(pred, ref, spacing, q):
    sp, sr = surface(pred), surface(ref)
    d_pr = distance_transform_edt(~sr, sampling=spacing)[sp]
    d_rp = distance_transform_edt(~sp, sampling=spacing)[sr]
    return float(max(np.percentile(d_pr, q), np.percentile(d_rp, q)))


def metrics(pred, ref, spacing, labels, ignore=None):
    keep = np.ones(ref.shape, bool) if ignore is None else ref != ignore
    out = {}
    for label in labels:
        p, r = (pred == label) & keep, (ref == label) & keep
        tp, fp, fn = int((p & r).sum()), int((p & ~r).sum()), int((~p & r).sum())
        entry = {'tp': tp, 'fp': fp, 'fn': fn,
                 'dice': None if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn),
                 'iou': None if tp + fp + fn == 0 else tp / (tp + fp + fn)}
        if p.any() and r.any():
            entry.update(hd95=hd(p, r, spacing, 95), hd100=hd(p, r, spacing, 100), status='ok')
        else:
            entry.update(hd95=0.0 if not p.any() and not r.any() else None, hd100=None,
                         status='both_empty' if not p.any() and not r.any() else ('pred_empty' if not p.any() else 'ref_empty'))
        out[str(label)] = entry
    return out


def blobs(shape, n_labels, smooth, seed_shift=0.0):
    """Smooth random fields thresholded into labelled regions: irregular, anatomy-like blobs."""
    labels = np.zeros(shape, np.uint8)
    for label in range(1, n_labels + 1):
        field = gaussian_filter(rng.normal(size=shape), smooth)
        field = (field - field.mean()) / field.std()
        labels[(field > 1.2 + seed_shift) & (labels == 0)] = label
    return labels


def perturb(labels, flips):
    """A plausible prediction: the reference with boundary noise and some relabelled voxels."""
    noisy = labels.copy()
    edges = np.zeros(labels.shape, bool)
    for axis in range(3):
        edges |= np.diff(labels, axis=axis, prepend=labels.take([0], axis=axis)) != 0
    idx = np.flatnonzero(edges)
    chosen = rng.choice(idx, size=int(flips * idx.size), replace=False)
    noisy.flat[chosen] = np.roll(labels, 1, axis=int(rng.integers(3))).flat[chosen]
    return noisy


def save(array, affine, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nib.save(nib.Nifti1Image(array.astype(np.uint8), affine), path)


expected = {'cases': {}, 'longitudinal': {}}
cases = [
    ('aniso', (40, 44, 36), (1.0, 1.2, 2.5), 4, 3.0),
    ('fine', (48, 40, 44), (0.7, 0.7, 0.9), 5, 2.5),
    ('iso', (36, 36, 36), (2.0, 2.0, 2.0), 3, 3.5),
]
for name, shape, spacing, n_labels, smooth in cases:
    ref = blobs(shape, n_labels, smooth)
    pred = perturb(ref, 0.3)
    # structure 1 displaced by a few voxels, structure 2 dilated along the first axis
    m1 = pred == 1
    pred[m1] = 0
    pred[np.roll(np.roll(m1, 3, 0), -2, 2) & (pred == 0)] = 1
    m2 = pred == 2
    pred[(np.roll(m2, 1, 0) | np.roll(m2, 2, 0) | np.roll(m2, -1, 1)) & (pred == 0)] = 2
    # a label missing from the prediction, and a spurious one only in the prediction
    pred[pred == n_labels] = 0
    pred[2:5, 2:6, 1:3] = n_labels + 1
    affine = np.diag(list(spacing) + [1.0])
    affine[:3, 3] = [-10.0, 12.5, -3.0]
    save(pred, affine, f'{root}/pred/{name}.nii.gz')
    save(ref, affine, f'{root}/ref/{name}.nii.gz')
    labels = list(range(1, n_labels + 2))
    expected['cases'][name] = {
        'spacing': spacing, 'shape': shape,
        'metrics': metrics(pred, ref, spacing, labels),
        'metrics_ignore_1': metrics(pred, ref, spacing, [l for l in labels if l != 1], ignore=1),
    }

# one subject, three registered sessions with ages; ASPC/STCS per label pair
shape, spacing = (32, 36, 30), (1.5, 1.5, 1.5)
affine = np.diag(list(spacing) + [1.0])
ages = {'01': 0.5, '02': 1.25, '03': 3.0}
base = blobs(shape, 3, 3.0)
grow = {'01': 0, '02': 1, '03': 2}
refs, preds = {}, {}
for ses, steps in grow.items():
    ref = base.copy()
    for _ in range(steps):  # structure 2 grows by one voxel shell per step, structure 3 shrinks
        dilated = np.zeros_like(ref)
        m2 = ref == 2
        grown = m2 | np.roll(m2, 1, 0) | np.roll(m2, -1, 0) | np.roll(m2, 1, 1) | np.roll(m2, -1, 1)
        ref[grown & (ref == 0)] = 2
        m3 = ref == 3
        ref[m3 & ~binary_erosion(m3, structure=STRUCT)] = 0
    refs[ses] = ref
    preds[ses] = perturb(ref, 0.2)
    save(ref, affine, f'{root}/longitudinal/ref/sub-01/ses-{ses}/anat/sub-01_ses-{ses}_dseg.nii.gz')
    save(preds[ses], affine, f'{root}/longitudinal/pred/sub-01/ses-{ses}/anat/sub-01_ses-{ses}_dseg.nii.gz')
with open(f'{root}/longitudinal/ref/sub-01/sub-01_sessions.tsv', 'w') as f:
    f.write('session_id\tage\n' + ''.join(f'ses-{s}\t{a}\n' for s, a in ages.items()))
with open(f'{root}/longitudinal/ref/dseg.tsv', 'w') as f:
    f.write('index\tname\n0\tbackground\n1\tstructure_one\n2\tgrowing\n3\tshrinking\n')
voxel = float(np.prod(spacing))


def pair_stats(a, b, label):
    ma, mb = a == label, b == label
    inter, total = int((ma & mb).sum()), int(ma.sum() + mb.sum())
    va, vb = ma.sum() * voxel, mb.sum() * voxel
    return (None if total == 0 else 2 * inter / total,
            None if va + vb == 0 else float(100 * abs(vb - va) / (0.5 * (va + vb))))


sessions = sorted(ages)
for i, a in enumerate(sessions):
    for b in sessions[i + 1:]:
        for label in (1, 2, 3):
            stcs, aspc = pair_stats(preds[a], preds[b], label)
            stcs_ref, aspc_ref = pair_stats(refs[a], refs[b], label)
            expected['longitudinal'][f'{a}-{b}-{label}'] = {
                'stcs': stcs, 'aspc': aspc, 'stcs_ref': stcs_ref, 'aspc_ref': aspc_ref, 'years': ages[b] - ages[a]}

with open(f'{root}/expected.json', 'w') as f:
    json.dump(expected, f, indent=1)
print('metric fixtures written')
