#!/usr/bin/env python3
"""LIBLINEAR on a file of `neuron gen --task classify`, through its Python
binding (Debian's python3-liblinear, the same liblinear4 library that
liblinear-train runs): `-s 0` (L2-regularised logistic regression, primal
trust-region Newton) or `-s 2` (L2-regularised squared-hinge SVM, primal),
with a bias feature (-B 1) and cost C (-c, LIBLINEAR's default 1: with
millions of rows the penalty 0.5|w|^2 is negligible next to C times the summed
loss).

Times: the rows are loaded and handed to LIBLINEAR (its problem struct, from
a CSR matrix) off the clock; `seconds` is the solve alone (`train`), one
whole fit, and `epoch_seconds_median` that over the Newton iterations it
printed. (An earlier version ran liblinear-train on a libsvm text export and
subtracted a read-only run's time: the difference of two noisy wall times,
up to 30x apart between runs.)"""
import argparse
import re
import sys
import time

import numpy as np
import scipy
import scipy.sparse

import classify_common as cc
import common

pre = argparse.ArgumentParser(add_help=False)
pre.add_argument("--solver", type=int, choices=[0, 2], default=0, help="liblinear -s")
pre.add_argument("--cost", type=float, default=1.0, help="liblinear -c")
pre.add_argument("--eps", type=float, default=0.01, help="liblinear -e (its default 0.01)")
m, rest = pre.parse_known_args()
sys.argv = [sys.argv[0]] + rest
o = common.args(__doc__)
X, y = cc.load(o.data, o.rows)


# Debian's binding (2.3.0) reaches numpy's functions through the scipy
# namespace, which scipy >= 1.12 no longer re-exports: hand back the few it uses
for name in ("arange", "ascontiguousarray", "asarray", "ctypeslib", "empty", "errstate",
             "frombuffer", "ndarray", "where"):
    if name not in vars(scipy):
        setattr(scipy, name, getattr(np, name))
try:
    import liblinear
    import liblinearutil
except ImportError:
    raise SystemExit("liblinear: python3 cannot import liblinear (Debian package python3-liblinear)")

# LIBLINEAR prints its iterations through a callback: collect them
lines = []
log = liblinear.PRINT_STRING_FUN(lambda s: lines.append(s.decode()))
prob = liblinearutil.problem((2 * y - 1).astype(np.float64),
                             scipy.sparse.csr_matrix(X.astype(np.float64)))
param = liblinearutil.parameter(f"-s {m.solver} -c {m.cost!r} -e {m.eps!r} -B 1")
param.print_func = log
t0 = time.perf_counter()
model = liblinearutil.train(prob, param)
secs = time.perf_counter() - t0
out = "".join(lines)
iters = len(re.findall(r"^iter\s", out, re.M))
cg = sum(int(v) for v in re.findall(r"CG\s+(\d+)", out))
wb = np.array([model.w[j] for j in range(X.shape[1] + 1)])
# w scores the first label LIBLINEAR met: turn it to score class +1
sign = 1.0 if model.get_labels()[0] == 1 else -1.0
w, b = sign * wb[:-1], sign * wb[-1]
if m.solver == 0:
    loss, kind = cc.logistic_loss(X, y, w, b), "logistic"
else:
    z = X.astype(np.float64) @ w + b
    loss, kind = float(np.mean(np.maximum(0.0, 1 - (2 * y - 1) * z) ** 2)), "squared_hinge"
per_iter = secs / max(iters, 1)
common.report("liblinear", f"s{m.solver}", X, [per_iter], loss, loss_kind=kind,
              iterations=iters, cg_steps=cg, seconds=secs, cost=m.cost, eps=m.eps, threads=1,
              version="python3-liblinear", errors=cc.error_rate(X, y, w, b),
              weights=[float(v) for v in w], bias=float(b),
              note="one whole fit (the solve; loading off the clock); epoch = one Newton "
                   "iteration of it")
