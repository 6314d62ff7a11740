#!/usr/bin/env python3
"""Full-batch logistic regression with PyTorch: nn.Linear(d, 1),
BCEWithLogitsLoss (mean reduction) and optim.SGD, one step per epoch over all
rows, on every core (--threads, as many as neuron used), float32 tensors
sharing numpy's memory; labels 0/1 from a `neuron gen --task classify` file."""
import torch

import classify_common as cc
import common

o = common.args(__doc__, threads=True)
X, y = cc.load(o.data, o.rows)
model, Xt, yt = common.torch_linear(o, X, y)
loss_fn = torch.nn.BCEWithLogitsLoss()
opt = torch.optim.SGD(model.parameters(), lr=o.lr)


def step():
    opt.zero_grad()
    loss = loss_fn(model(Xt), yt)
    loss.backward()
    opt.step()


times = common.timed(step, o.epochs)
w = model.weight.detach().numpy()[0]
b = float(model.bias.detach().numpy()[0])
common.report("torch", "batch", X, times, cc.logistic_loss(X, y, w, b), version=torch.__version__,
              threads=torch.get_num_threads(), errors=cc.error_rate(X, y, w, b),
              loss_kind="logistic")
