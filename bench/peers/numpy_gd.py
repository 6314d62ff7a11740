#!/usr/bin/env python3
"""Full-batch gradient descent on the MSE with numpy, the way a user would
write it: r = Xw + b - y, loss = mean(r^2), grad = (2/n) X^T r. The data keep
the file's dtype (float32 for an f32 file), as numpy users would have them."""
import numpy as np

import common

o = common.args(__doc__)
X, y = common.load(o.data, o.rows)
n, d = X.shape
w = np.zeros(d, dtype=X.dtype)
b = X.dtype.type(0)
lr = X.dtype.type(o.lr)
state = {"loss": float("nan")}


def step():
    global w, b
    r = X @ w + b - y
    state["loss"] = float(np.mean(r * r))
    scale = X.dtype.type(2.0 / n)
    w = w - lr * scale * (X.T @ r)
    b = b - lr * scale * r.sum()


times = common.timed(step, o.epochs)
common.report("numpy", "batch", X, times, state["loss"], version=np.__version__)
