#!/usr/bin/env python3
"""Full-batch gradient descent on the logistic loss with numpy, the way a
user would write it: z = Xw + b, p = 1 / (1 + exp(-z)), grad = X^T (p - y) / n,
in the file's dtype (float32 for an f32 file)."""
import warnings

import numpy as np

import classify_common as cc
import common

o = common.args(__doc__)
X, y = cc.load(o.data, o.rows)
n, d = X.shape
w = np.zeros(d, dtype=X.dtype)
b = X.dtype.type(0)
lr = X.dtype.type(o.lr)
warnings.simplefilter("ignore")  # exp overflow gives p = 0, as a user would accept


def step():
    global w, b
    p = 1 / (1 + np.exp(-(X @ w + b)))
    r = p - y
    scale = X.dtype.type(1.0 / n)
    w = w - lr * scale * (X.T @ r)
    b = b - lr * scale * r.sum()


times = common.timed(step, o.epochs)
common.report("numpy", "batch", X, times, cc.logistic_loss(X, y, w, b), version=np.__version__,
              errors=cc.error_rate(X, y, w, b), loss_kind="logistic")
