#!/usr/bin/env python3
"""Full-batch gradient descent with PyTorch: nn.Linear(d, 1), MSELoss (mean
reduction) and optim.SGD, one step per epoch over all rows, on every core
(--threads, as many as neuron used), data as float32 tensors sharing numpy's memory."""
import torch

import common

o = common.args(__doc__, threads=True)
X, y = common.load(o.data, o.rows)
model, Xt, yt = common.torch_linear(o, X, y)
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
