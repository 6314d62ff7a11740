#!/usr/bin/env python3
"""The tutorial experiment in plain CPython, as doc/reference.md states it: the
peer that `neuron tutorial` is timed against (the bench checks first that both
print the same bytes).

Data x = 0..samples-1, y = slope*x + uniform(-noise, noise) from random.seed(S);
then w = random(), b = random(); then per-sample SGD on the squared error, in
data order, printing every `every` epochs.
"""
import argparse
import random


def make_data(samples, slope, noise):
    xs = list(range(samples))
    ys = [slope * x + random.uniform(-noise, noise) for x in xs]
    return xs, ys


def epoch(xs, ys, w, b, lr):
    total = 0
    for x, y in zip(xs, ys):
        pred = w * x + b
        total += (pred - y) ** 2  # CPython's pow, as the tutorial writes it
        d = (pred - y) * 2
        w -= lr * (d * x)
        b -= lr * d
    return w, b, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=100000)
    ap.add_argument("--lr", type=float, default=0.00001)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--slope", type=float, default=5.0)
    ap.add_argument("--noise", type=float, default=100.0)
    o = ap.parse_args()
    random.seed(o.seed)
    xs, ys = make_data(o.samples, o.slope, o.noise)
    w, b = random.random(), random.random()
    for e in range(1, o.epochs + 1):
        w, b, total = epoch(xs, ys, w, b, o.lr)
        if e % o.every == 0:
            print(f"Epoch: {e}, Loss: {total:.4f}, Weight: {w:.4f}, Bias: {b:.4f}")


if __name__ == "__main__":
    main()
