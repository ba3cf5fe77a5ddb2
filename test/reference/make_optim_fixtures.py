#!/usr/bin/python3
"""Reference values for longiseg's Adam (python3-torch from Debian).

Run from the repository root: /usr/bin/python3 test/reference/make_optim_fixtures.py
torch.optim.Adam with the reference's settings (lr 2e-4, betas (0.5, 0.999), eps 1e-8) takes four
steps from fixed weights with fixed gradients, in float32; the weights after each step are kept.
"""
import json
import os

import numpy as np
import torch

rng = np.random.default_rng(20260218)
shape = (6, 5)
weights = rng.normal(size=shape).astype(np.float32)
# gradients of very different scales, one exactly zero, as Adam's normalisation must handle
gradients = [(rng.normal(size=shape) * scale).astype(np.float32) for scale in (1.0, 1e-3, 30.0, 0.0)]

w = torch.nn.Parameter(torch.from_numpy(weights.copy()))
optimiser = torch.optim.Adam([w], lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
after = []
for g in gradients:
    w.grad = torch.from_numpy(g.copy())
    optimiser.step()
    after.append(w.detach().numpy().flatten().tolist())

out = {'shape': list(shape), 'weights': weights.flatten().tolist(), 'gradients': [g.flatten().tolist() for g in gradients], 'after': after, 'torch': torch.__version__}
os.makedirs('fixtures/optim', exist_ok=True)
with open('fixtures/optim/adam.json', 'w') as f:
    json.dump(out, f)
print('wrote fixtures/optim/adam.json')
