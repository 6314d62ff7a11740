#!/usr/bin/env python3
"""scikit-learn's linear classifiers on a file of `neuron gen --task classify`:
--model logistic: LogisticRegression(solver='lbfgs', penalty=None), one fit to
  the optimum (tol, max_iter); times the whole fit, reports its iterations;
--model sgd: SGDClassifier(loss='log_loss'), no penalty, constant learning
  rate, no shuffling, one partial_fit per epoch (neuron's --algo sgd
  --activation sigmoid);
--model perceptron: Perceptron, no penalty, eta0 = lr, no shuffling, one
  partial_fit per epoch (neuron's --algo sgd --activation step)."""
import argparse
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression, Perceptron, SGDClassifier

import classify_common as cc
import common

# common.args knows --data, --epochs, --lr, --rows; the model and the lbfgs
# tolerance come first from argv
pre = argparse.ArgumentParser(add_help=False)
pre.add_argument("--model", choices=["logistic", "sgd", "perceptron"], default="logistic")
pre.add_argument("--tol", type=float, default=1e-8, help="logistic: lbfgs tolerance")
pre.add_argument("--max-iter", type=int, default=10000, help="logistic: lbfgs iterations at most")
m, rest = pre.parse_known_args()
sys.argv = [sys.argv[0]] + rest
o = common.args(__doc__, epochs=3, lr=0.001)
X, y = cc.load(o.data, o.rows)
X = X.astype(np.float64)  # scikit-learn's solvers work in float64 and would copy
warnings.simplefilter("ignore")
if m.model == "logistic":
    est = LogisticRegression(penalty=None, solver="lbfgs", tol=m.tol, max_iter=m.max_iter)
    t0 = time.perf_counter()
    est.fit(X, y)
    secs = time.perf_counter() - t0
    w, b = est.coef_[0], est.intercept_[0]
    iters = int(est.n_iter_[0])
    common.report("sklearn", "lbfgs", X, [secs], cc.logistic_loss(X, y, w, b),
                  version=sklearn.__version__, iterations=iters, seconds=secs,
                  seconds_per_iteration=secs / max(iters, 1), tol=m.tol,
                  errors=cc.error_rate(X, y, w, b), loss_kind="logistic", weights=[float(v) for v in w], bias=float(b),
                  note="one whole fit: epochs = 1, samples_per_second = rows / fit time")
else:
    if m.model == "sgd":
        est = SGDClassifier(loss="log_loss", penalty=None, learning_rate="constant", eta0=o.lr,
                            shuffle=False, fit_intercept=True, average=False)
    else:
        est = Perceptron(penalty=None, eta0=o.lr, shuffle=False, fit_intercept=True)
    classes = np.array([0.0, 1.0])
    times = common.timed(lambda: est.partial_fit(X, y, classes=classes), o.epochs)
    w, b = est.coef_[0], est.intercept_[0]
    loss = cc.logistic_loss(X, y, w, b) if m.model == "sgd" else cc.perceptron_loss(X, y, w, b)
    common.report("sklearn", m.model, X, times, loss, version=sklearn.__version__,
                  errors=cc.error_rate(X, y, w, b),
                  loss_kind="logistic" if m.model == "sgd" else "perceptron")
