#!/usr/bin/env python3
"""Per-sample SGD with scikit-learn's SGDRegressor: squared error, no
penalty, constant learning rate, no shuffling, one partial_fit per epoch: the
closest match to neuron's `--algo sgd` (which uses the tutorial's rule)."""
import warnings

import numpy as np
import sklearn
from sklearn.linear_model import SGDRegressor

import common

o = common.args(__doc__, epochs=3, lr=0.001)
X, y = common.load(o.data, o.rows)
X = X.astype(np.float64)  # SGDRegressor works in float64 and would copy
y = y.astype(np.float64)
m = SGDRegressor(loss="squared_error", penalty=None, learning_rate="constant", eta0=o.lr,
                 shuffle=False, fit_intercept=True, average=False)
warnings.simplefilter("ignore")
times = common.timed(lambda: m.partial_fit(X, y), o.epochs)
r = X @ m.coef_ + m.intercept_[0] - y
common.report("sklearn", "sgd", X, times, float(np.mean(r * r)), version=sklearn.__version__)
