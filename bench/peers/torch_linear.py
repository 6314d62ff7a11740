#!/usr/bin/env python3
"""Full-batch gradient descent with PyTorch: nn.Linear(d, 1), MSELoss (mean
reduction) and optim.SGD, one step per epoch over all rows, on every core
(--threads, as many as neuron used), data as float32 tensors sharing numpy's memory."""
import os

import numpy as np
import torch

import common

o = common.args(__doc__, threads=True)
X, y = common.load(o.data, o.rows)
torch.set_num_threads(o.threads or len(os.sched_getaffinity(0)))
Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).unsqueeze(1)
model = torch.nn.Linear(Xt.shape[1], 1)
with torch.no_grad():
    model.weight.zero_()
    model.bias.zero_()
loss_fn = torch.nn.MSELoss()
opt = torch.optim.SGD(model.parameters(), lr=o.lr)
state = {"loss": float("nan")}


def step():
    opt.zero_grad()
    loss = loss_fn(model(Xt), yt)
    loss.backward()
    opt.step()
    state["loss"] = loss.item()


times = common.timed(step, o.epochs)
common.report("torch", "batch", X, times, state["loss"], version=torch.__version__,
              threads=torch.get_num_threads())
