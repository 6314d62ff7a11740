#!/usr/bin/env python3
"""LIBLINEAR (Debian's liblinear-tools) on a file of `neuron gen --task
classify`: `liblinear-train -s 0` (L2-regularised logistic regression, primal
trust-region Newton) or `-s 2` (L2-regularised squared-hinge SVM, primal),
with a bias feature (-B 1) and cost C (-c, LIBLINEAR's default 1: with
millions of rows the penalty 0.5|w|^2 is negligible next to C times the summed
loss). The rows are exported once to libsvm text (cached next to the .npy
file), since that is the only input liblinear-train reads.

Times: `seconds` is liblinear-train's wall time, reading the text included;
`load_seconds` is the same command with a tolerance so loose that it stops
before the first iteration (reading, one gradient, writing the model);
`solve_seconds` is the difference, divided among the Newton iterations for
`epoch_seconds_median`. Each iteration also runs CG steps (`cg_steps`), one
pass over the rows each."""
import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np

import classify_common as cc
import common

TRAIN = "liblinear-train"

pre = argparse.ArgumentParser(add_help=False)
pre.add_argument("--solver", type=int, choices=[0, 2], default=0, help="liblinear -s")
pre.add_argument("--cost", type=float, default=1.0, help="liblinear -c")
pre.add_argument("--eps", type=float, default=0.01, help="liblinear -e (its default 0.01)")
m, rest = pre.parse_known_args()
sys.argv = [sys.argv[0]] + rest
o = common.args(__doc__)
X, y = cc.load(o.data, o.rows)


def export(path):
    """libsvm text: `label index:value ...`, labels -1/+1, 9 significant
    digits (float32 round-trips), every feature written (dense data)."""
    fmt = "%d " + " ".join(f"{j + 1}:%.9g" for j in range(X.shape[1]))
    tmp = path + ".tmp"
    np.savetxt(tmp, np.column_stack([2 * y - 1, X]), fmt=fmt)
    os.replace(tmp, path)


svm = f"{o.data}.{o.rows or 'all'}.svm"
if not os.path.exists(svm) or os.path.getmtime(svm) < os.path.getmtime(o.data):
    t0 = time.perf_counter()
    export(svm)
    print(f"liblinear: exported {svm} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
model = svm + f".s{m.solver}.model"


def train(eps):
    cmd = [TRAIN, "-s", str(m.solver), "-c", repr(m.cost), "-e", repr(eps), "-B", "1", svm, model]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return secs, p.stdout


secs, out = train(m.eps)
with open(model) as f:
    text = f.read()
load_secs, _ = train(1e30)  # overwrites the model file, read above
iters = len(re.findall(r"^iter\s", out, re.M))
cg = sum(int(v) for v in re.findall(r"CG\s+(\d+)", out))
labels = [int(v) for v in re.search(r"^label (.*)$", text, re.M).group(1).split()]
wb = np.array([float(v) for v in text.split("\nw\n", 1)[1].split()])
# w scores the first label of the file's order: turn it to score class +1
sign = 1.0 if labels[0] == 1 else -1.0
w, b = sign * wb[:-1], sign * wb[-1]
solve = max(secs - load_secs, 0.0)
if m.solver == 0:
    loss, kind = cc.logistic_loss(X, y, w, b), "logistic"
else:
    z = X.astype(np.float64) @ w + b
    loss, kind = float(np.mean(np.maximum(0.0, 1 - (2 * y - 1) * z) ** 2)), "squared_hinge"
per_iter = solve / max(iters, 1)
common.report("liblinear", f"s{m.solver}", X, [per_iter], loss, loss_kind=kind,
              iterations=iters, cg_steps=cg, seconds=secs, load_seconds=load_secs,
              solve_seconds=solve, cost=m.cost, eps=m.eps, threads=1,
              errors=cc.error_rate(X, y, w, b), weights=[float(v) for v in w], bias=float(b),
              note="epoch = one Newton iteration of the solve (reading excluded)")
