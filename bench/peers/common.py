"""Shared by the peer scripts: argument parsing, loading the bench's .npy
file (target in the last column), timing, and the one JSON line each peer
prints for bench/harness.py."""
import argparse
import json
import statistics
import time


def args(doc, epochs=10, lr=0.1, threads=False):
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--data", required=True, help=".npy file written by `neuron gen`")
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--rows", type=int, default=0, help="use the first ROWS rows (0: all)")
    if threads:
        ap.add_argument("--threads", type=int, default=0, help="threads (0: every usable core)")
    return ap.parse_args()


def load(path, rows=0):
    import numpy as np

    a = np.load(path, mmap_mode="r")
    if rows:
        a = a[:rows]
    a = np.ascontiguousarray(a)  # read it into memory once, outside the timing
    return a[:, :-1].copy(), a[:, -1].copy()


def timed(step, epochs):
    """Run step() `epochs` times; return the per-epoch seconds."""
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def report(peer, algo, X, times, loss, **extra):
    """The first epoch is a warm-up (first touches of the arrays, lazy
    initialisation of the library) and is left out of the median when there
    are others; every time is kept in "epoch_seconds"."""
    kept = times[1:] if len(times) > 1 else times
    med = statistics.median(kept)
    out = {
        "peer": peer,
        "algo": algo,
        "rows": int(X.shape[0]),
        "features": int(X.shape[1]),
        "dtype": str(X.dtype),
        "epochs": len(times),
        "epoch_seconds_median": med,
        "epoch_seconds": times,
        "warmup_epochs": len(times) - len(kept),
        "samples_per_second": X.shape[0] / med,
        "final_loss": float(loss),
    }
    out.update(extra)
    print(json.dumps(out))


def torch_linear(o, X, y):
    """The PyTorch peers' common set-up: o.threads threads (all cores when 0),
    X and y as float32 tensors sharing numpy's memory (y as a column), and a
    zero-initialised nn.Linear(d, 1), as neuron starts. Imports torch here,
    so that the other peers do not need it."""
    import os

    import numpy as np
    import torch

    torch.set_num_threads(o.threads or len(os.sched_getaffinity(0)))
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).unsqueeze(1)
    model = torch.nn.Linear(Xt.shape[1], 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    return model, Xt, yt
