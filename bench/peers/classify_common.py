"""Shared by the classification peers: labels as 0/1 (a -1/+1 column is
mapped, as neuron does), and the losses every peer reports on the training
rows with the weights it ends with, computed the same way for all of them."""
import numpy as np

import common


def load(path, rows=0):
    X, y = common.load(path, rows)
    y = np.where(y == 1, 1, 0).astype(X.dtype)
    return X, y


def logistic_loss(X, y, w, b):
    """mean binary cross-entropy, softplus(z) - y z, stable for any z"""
    z = X.astype(np.float64) @ np.asarray(w, np.float64) + float(b)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def perceptron_loss(X, y, w, b):
    """the perceptron criterion mean(max(0, -(2y - 1) z)) (doc/formats.md)"""
    z = X.astype(np.float64) @ np.asarray(w, np.float64) + float(b)
    return float(np.mean(np.maximum(0.0, -(2 * y - 1) * z)))


def error_rate(X, y, w, b):
    z = X.astype(np.float64) @ np.asarray(w, np.float64) + float(b)
    return float(np.mean((z > 0) != (y == 1)))
