#!/usr/bin/python3
"""One pretraining step of the reference model in PyTorch (Debian python3-torch), for bench/model.ts.

usage: pytorch_step.py SIZE STEPS [THREADS] [DEVICE]  — prints JSON {seconds_per_step} (the fastest of STEPS after a warm-up).
THREADS (default 1) for both torch.set_num_threads and OpenBLAS; DEVICE cpu (default) or cuda;
ngf 16, 33 classes, nine 2048-wide heads with 512 bottleneck, M = 128 patches, all losses, Adam (β1 0.5).
"""
import json
import os
import sys
import time

THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 1
# torch.set_num_threads bounds PyTorch's own pool only: OpenBLAS starts threads of its own
# (a one-thread step used 1.4 cores without this)
for variable in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[variable] = str(THREADS)

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(THREADS)
torch.manual_seed(0)
SIZE, STEPS = int(sys.argv[1]), int(sys.argv[2])
DEVICE = torch.device(sys.argv[4] if len(sys.argv) > 4 else 'cpu')
NGF, CLASSES, WIDTH, M, TAPS = 16, 33, 2048, 128, [3, 10, 17, 24, 27, 31, 38, 45, 52]
mods, kinds = [], []


def block(cin, cout):
    mods.extend([nn.Conv3d(cin, cout, 3, padding=1, padding_mode='reflect', bias=False), nn.BatchNorm3d(cout), nn.ReLU()])
    kinds.extend(['c', 'b', 'r'])


width = lambda l: NGF * 2 ** l
block(1, width(0))
skips, ch = [], width(0)
for level in range(4):
    block(ch, width(level)); block(width(level), width(level)); skips.append(len(mods) - 1)
    mods.append(nn.MaxPool3d(2)); kinds.append('p'); ch = width(level)
block(ch, width(4)); block(width(4), width(4)); ch = width(4)
for level in reversed(range(4)):
    mods.append(nn.Upsample(scale_factor=2, mode='nearest')); kinds.append(('u', skips[level]))
    block(width(level) + ch, width(level)); block(width(level), width(level)); ch = width(level)
mods.append(nn.Conv3d(ch, CLASSES, 3, padding=1, padding_mode='reflect', bias=False)); kinds.append('c')
model = nn.Sequential(*mods)
proj = nn.ModuleList([nn.Sequential(nn.Linear(model[l].out_channels, WIDTH, bias=False), nn.BatchNorm1d(WIDTH), nn.ReLU(),
                                    nn.Linear(WIDTH, WIDTH, bias=False), nn.BatchNorm1d(WIDTH), nn.ReLU(),
                                    nn.Linear(WIDTH, WIDTH, bias=False), nn.BatchNorm1d(WIDTH, affine=False)) for l in TAPS])
pred = nn.ModuleList([nn.Sequential(nn.Linear(WIDTH, WIDTH // 4, bias=False), nn.BatchNorm1d(WIDTH // 4), nn.ReLU(), nn.Linear(WIDTH // 4, WIDTH)) for _ in TAPS])
rec = nn.Conv3d(CLASSES, 1, 3, padding=1, padding_mode='reflect', bias=False)
for module in (model, proj, pred, rec):
    module.to(DEVICE)
params = list(model.parameters()) + list(proj.parameters()) + list(pred.parameters()) + list(rec.parameters())
opt = torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))
x = torch.randn(2, 1, SIZE, SIZE, SIZE, device=DEVICE)
cos = nn.CosineSimilarity(dim=1)


def step():
    outputs, feats, h = [], {}, x
    for i, (m, k) in enumerate(zip(model, kinds)):
        h = torch.cat([outputs[k[1]], m(h)], 1) if isinstance(k, tuple) else m(h)
        outputs.append(h)
        if i in TAPS:
            feats[i] = h
    total = 10 * F.mse_loss(rec(h), x)
    zs = {}
    for k, l in enumerate(TAPS):
        f = feats[l]
        idx = torch.randperm(f[0, 0].numel(), device=DEVICE)[:M]
        r = f.flatten(2)[:, :, idx].permute(0, 2, 1).reshape(-1, f.shape[1])
        z = proj[k](r); p = pred[k](z); half = z.shape[0] // 2
        zs[l] = (r, idx)
        total = total + (0.5 * -cos(p[:half], z[half:].detach()).mean() + 0.5 * -cos(p[half:], z[:half].detach()).mean()) / 8
        if l in (38, 45, 52):
            v = z - z.mean(0)
            total = total + 1.25e-4 * (F.relu(1 - torch.sqrt(z.var(0) + 1e-4)).mean() + ((v.T @ v) / (v.shape[0] - 1)).pow(2).sum() / WIDTH)
    idx = zs[27][1]
    e = proj[4](zs[27][0]); d = proj[6](feats[38].flatten(2)[:, :, idx].permute(0, 2, 1).reshape(-1, feats[38].shape[1]))
    total = total + 100 * ((e / e.norm(dim=1, keepdim=True)) * (d / d.norm(dim=1, keepdim=True))).sum(1).pow(2).mean()
    opt.zero_grad(); total.backward(); opt.step()
    if DEVICE.type == 'cuda':
        torch.cuda.synchronize()


step()
times = []
for _ in range(STEPS):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
# the fastest step: the least disturbed by other work on a shared machine, as the TypeScript side
print(json.dumps({'seconds_per_step': min(times)}))
