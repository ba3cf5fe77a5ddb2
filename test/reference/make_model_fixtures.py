#!/usr/bin/python3
"""Reference values for longiseg's model and losses, computed with PyTorch (Debian python3-torch).

Run from the repository root: /usr/bin/python3 test/reference/make_model_fixtures.py
Rebuilds the reference generator (UnetGeneratorExpand: flat Sequential, reflect-padded 3x3x3 convs
without bias, BatchNorm3d, ReLU, MaxPool3d, nearest upsampling, concat [skip, up]), the SimSiam
projector/predictor per tapped layer, netRec and the losses of the reference code, at a
small size. Writes fixtures/model/reference.safetensors:
  - weights under the reference's names in PyTorch layout (model.{i}.weight [out,in,kx,ky,kz], ...),
    netF.mlp_{k}.{j}.*, netF.pred_{k}.{j}.*, netRec.weight;
  - inputs and expected outputs under expected.* in longiseg layout [N, z, y, x, C]
    (PyTorch tensors here are [N, C, x, y, z], as the reference feeds nibabel arrays);
and fixtures/model/reference.json with the loss values and the configuration.
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(20221128)
torch.set_default_dtype(torch.float32)
NGF, DEPTH, IN_CH, CLASSES, WIDTH, BOTTLENECK, M = 4, 4, 1, 5, 32, 16, 24
SIZE = (32, 32, 32)  # x, y, z
TAPS = [3, 10, 17, 24, 27, 31, 38, 45, 52]
SIM_WEIGHTS = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1], dtype=float)
SIM_WEIGHTS /= SIM_WEIGHTS.sum()
REG_LAYERS = {38, 45, 52}


def build_modules():
    mods, kinds = [], []

    def block(cin, cout):
        mods.extend([nn.Conv3d(cin, cout, 3, padding=1, padding_mode='reflect', bias=False), nn.BatchNorm3d(cout), nn.ReLU()])
        kinds.extend(['conv', 'bn', 'relu'])
    width = lambda level: NGF * 2 ** level
    block(IN_CH, width(0))
    skips, ch = [], width(0)
    for level in range(DEPTH):
        block(ch, width(level)); block(width(level), width(level))
        skips.append(len(mods) - 1)
        mods.append(nn.MaxPool3d(2, 2)); kinds.append('pool')
        ch = width(level)
    block(ch, width(DEPTH)); block(width(DEPTH), width(DEPTH))
    ch = width(DEPTH)
    for level in reversed(range(DEPTH)):
        mods.append(nn.Upsample(scale_factor=2, mode='nearest')); kinds.append(('up', skips[level]))
        block(width(level) + ch, width(level)); block(width(level), width(level))
        ch = width(level)
    mods.append(nn.Conv3d(ch, CLASSES, 3, padding=1, padding_mode='reflect', bias=False)); kinds.append('conv')
    return nn.Sequential(*mods), kinds


model, kinds = build_modules()
assert len(model) == 66
for m in model.modules():  # kaiming (fan-in) convs, BN weight ~ N(1, 0.02), as init_weights
    if isinstance(m, nn.Conv3d):
        nn.init.kaiming_normal_(m.weight, a=0, mode='fan_in')
    elif isinstance(m, nn.BatchNorm3d):
        nn.init.normal_(m.weight, 1.0, 0.02); nn.init.zeros_(m.bias)


def forward(x):
    outputs, feats = [], {}
    for i, (module, kind) in enumerate(zip(model, kinds)):
        if isinstance(kind, tuple):
            x = torch.cat([outputs[kind[1]], module(x)], dim=1)
        else:
            x = module(x)
        outputs.append(x)
        if i in TAPS:
            feats[i] = x
    return x, feats


def channels(layer):
    return model[layer].out_channels


projectors = nn.ModuleList([nn.Sequential(
    nn.Linear(channels(l), WIDTH, bias=False), nn.BatchNorm1d(WIDTH), nn.ReLU(),
    nn.Linear(WIDTH, WIDTH, bias=False), nn.BatchNorm1d(WIDTH), nn.ReLU(),
    nn.Linear(WIDTH, WIDTH, bias=False), nn.BatchNorm1d(WIDTH, affine=False)) for l in TAPS])
predictors = nn.ModuleList([nn.Sequential(
    nn.Linear(WIDTH, BOTTLENECK, bias=False), nn.BatchNorm1d(BOTTLENECK), nn.ReLU(), nn.Linear(BOTTLENECK, WIDTH)) for _ in TAPS])
for m in list(projectors.modules()) + list(predictors.modules()):
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, a=0, mode='fan_in')
        if m.bias is not None:
            nn.init.zeros_(m.bias)
rec = nn.Conv3d(CLASSES, IN_CH, 3, padding=1, padding_mode='reflect', bias=False)
nn.init.kaiming_normal_(rec.weight, a=0, mode='fan_in')

x = torch.randn(2, IN_CH, *SIZE)
target = x + 0.1 * torch.randn_like(x)
labels = torch.randint(0, CLASSES, (2, *SIZE))

for module in [model, projectors, predictors, rec]:
    module.train()
logits, feats = forward(x)


def rows(feat, positions):  # (2, C, X, Y, Z) -> (2*M, C), batch-major, positions flat over (x, y, z)
    flat = feat.flatten(2)[:, :, positions]
    return flat.permute(0, 2, 1).reshape(-1, feat.shape[1])


positions = {l: torch.randperm(feats[l][0, 0].numel())[:M] for l in TAPS}
terms = {}
total = torch.zeros(())
for k, l in enumerate(TAPS):
    z = projectors[k](rows(feats[l], positions[l]))
    p = predictors[k](z)
    # a predictor row that the ReLU zeroes has gradient z/eps (1e8 scale): too ill-conditioned to compare
    assert (p.abs().sum(dim=1) > 0).all(), f'layer {l}: a predictor row is exactly zero; change the seed'
    half = z.shape[0] // 2
    cos = nn.CosineSimilarity(dim=1, eps=1e-8)
    sim = 0.5 * -cos(p[:half], z[half:].detach()).mean() + 0.5 * -cos(p[half:], z[:half].detach()).mean()
    terms[f'sim_{l}'] = sim
    total = total + SIM_WEIGHTS[k] * sim
    if l in REG_LAYERS:
        def hinge(v):
            std = torch.sqrt(v.var(dim=0) + 1e-4)
            return F.relu(1 - std).mean()

        def offdiag(v):
            v = v - v.mean(dim=0)
            cov = (v.T @ v) / (v.shape[0] - 1)
            return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / v.shape[1]
        var = 0.5 * hinge(z[:half]) + 0.5 * hinge(z[half:])
        covl = offdiag(z[:half]) + offdiag(z[half:])
        terms[f'var_{l}'], terms[f'cov_{l}'] = var, covl
        total = total + 1e-3 * SIM_WEIGHTS[k] * (var + covl)
e = projectors[TAPS.index(27)](rows(feats[27], positions[27]))
d = projectors[TAPS.index(38)](rows(feats[38], positions[27]))
unit = lambda v: v / (v.norm(dim=1, keepdim=True) + 1e-7)
ortho = (unit(e) * unit(d)).sum(dim=1).pow(2).mean()
recon = F.mse_loss(rec(logits), target)
terms['ortho'], terms['rec'] = ortho, recon
total = total + 100 * ortho + 10 * recon
terms['pretrain_total'] = total


def dice_loss(lg, onehot, nr, dr):
    prob = lg.softmax(dim=1)
    dims = tuple(range(2, lg.dim()))
    inter = (prob * onehot).sum(dims)
    den = onehot.sum(dims) + prob.sum(dims)
    return (1 - (2 * inter + nr) / (den + dr)).mean()


onehot = F.one_hot(labels, CLASSES).permute(0, 4, 1, 2, 3).float()
terms['dice_ce'] = dice_loss(logits, onehot, 0.0, 1e-3) + F.cross_entropy(logits, labels)
hard = lambda lg: F.one_hot(lg.detach().argmax(1), CLASSES).permute(0, 4, 1, 2, 3).float()
terms['consistency'] = 0.5 * dice_loss(logits[:1], hard(logits[1:]), 1e-5, 1e-5) + 0.5 * dice_loss(logits[1:], hard(logits[:1]), 1e-5, 1e-5)

# Gradients for a few parameters of the objective without Lrec: in float32 those agree with float64 to
# ~1e-5, while Lrec's gradient through 19 training-mode BatchNorms differs from float64 by ~1 % in
# PyTorch itself; Lrec's gradient is checked at the output head (model.65) alone.
grad_names = ['model.0.weight', 'model.31.weight', 'model.1.weight', 'netF.mlp_0.0.weight', 'netF.pred_8.3.bias']
named = dict(model.named_parameters(prefix='model'))
named.update({f'netF.mlp_{k}.{n}': p for k, proj in enumerate(projectors) for n, p in proj.named_parameters()})
named.update({f'netF.pred_{k}.{n}': p for k, pred in enumerate(predictors) for n, p in pred.named_parameters()})
grads = torch.autograd.grad(total - 10 * recon, [named[n] for n in grad_names], retain_graph=True)
rec_grad_head = torch.autograd.grad(recon, [named['model.65.weight']])[0]

# evaluation mode (running statistics, as inference uses them) after the training forward moved them
model.eval()
with torch.no_grad():
    eval_logits = forward(x)[0]

# ---- write
tensors = {}
to_ours = lambda t: t.detach().permute(0, 4, 3, 2, 1).contiguous().numpy()  # [N,C,x,y,z] -> [N,z,y,x,C]
for name, value in model.state_dict().items():
    tensors[f'model.{name}'] = value.numpy()
for k in range(len(TAPS)):
    for name, value in projectors[k].state_dict().items():
        tensors[f'netF.mlp_{k}.{name}'] = value.numpy()
    for name, value in predictors[k].state_dict().items():
        tensors[f'netF.pred_{k}.{name}'] = value.numpy()
tensors['netRec.weight'] = rec.weight.detach().numpy()
# the weights before this forward: BN running statistics moved during it, so save them apart
tensors['expected.x'] = to_ours(x)
tensors['expected.target'] = to_ours(target)
tensors['expected.labels'] = labels.permute(0, 3, 2, 1).contiguous().numpy().astype(np.float32)
tensors['expected.logits'] = to_ours(logits)
tensors['expected.eval_logits'] = to_ours(eval_logits)
for l in TAPS:
    tensors[f'expected.feature_{l}'] = to_ours(feats[l])
    X, Y, Z = feats[l].shape[2:]
    pos = positions[l].numpy()
    x_, y_, z_ = pos // (Y * Z), (pos // Z) % Y, pos % Z
    tensors[f'expected.positions_{l}'] = ((z_ * Y + y_) * X + x_).astype(np.int32)  # flat index in [z, y, x]
for name, g in zip(grad_names, grads):
    tensors[f'expected.grad.{name}'] = g.numpy()
tensors['expected.grad_rec.model.65.weight'] = rec_grad_head.numpy()

header, blobs, offset = {}, [], 0
dtypes = {np.dtype('float32'): 'F32', np.dtype('int64'): 'I64', np.dtype('int32'): 'I32'}
for name, value in tensors.items():
    value = np.require(value, requirements='C')  # keeps 0-d scalars (num_batches_tracked) 0-d
    raw = value.tobytes()
    header[name] = {'dtype': dtypes[value.dtype], 'shape': list(value.shape), 'data_offsets': [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
header['__metadata__'] = {'written_by': 'test/reference/make_model_fixtures.py', 'torch': torch.__version__}
text = json.dumps(header).encode()
text += b' ' * ((8 - len(text) % 8) % 8)
with open('fixtures/model/reference.safetensors', 'wb') as f:
    f.write(struct.pack('<Q', len(text)))
    f.write(text)
    for raw in blobs:
        f.write(raw)
with open('fixtures/model/reference.json', 'w') as f:
    json.dump({'config': {'ngf': NGF, 'depth': DEPTH, 'input_channels': IN_CH, 'classes': CLASSES, 'width': WIDTH,
                          'bottleneck': BOTTLENECK, 'patches': M, 'taps': TAPS},
               'losses': {k: float(v) for k, v in terms.items()},
               'gradients': grad_names,
               'parameters_ngf16_33_classes': 5892432 + 432 * 33}, f, indent=1)
print({k: round(float(v), 5) for k, v in terms.items()})
