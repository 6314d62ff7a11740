#!/usr/bin/env python3
"""What the peers' training options cost a batch epoch (issue 18: L2/L1
batch epochs within 1.1x of plain batch on 10M x 16 f32).

Runs `neuron train --algo batch` plain, with --l2, with --l1 and with both,
interleaved round by round (so a change in the machine's load hits every
variant alike), takes each run's median epoch time from its report, and
prints per variant the median over rounds, the spread (min-max) and the
ratio to plain batch measured in the same rounds. Standard library only.
Figures mean something only on a quiet machine.

  python3 bench/penalty_cost.py --neuron build/neuron [--rows 10000000]
      [--features 16] [--epochs 10] [--rounds 7] [--threads T] [--data FILE]
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402

VARIANTS = [
    ("plain", []),
    ("l2", ["--l2", "0.1"]),
    ("l1", ["--l1", "0.01"]),
    ("elastic net", ["--l2", "0.1", "--l1", "0.01"]),
]



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    stats.round_args(ap)
    ap.add_argument("--data", help="an existing .npy (else one is generated, f32)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = a.data
        if not data:
            data = os.path.join(tmp, "data.npy")
            stats.run_or_exit([a.neuron, "gen", "--rows", str(a.rows), "--features",
                               str(a.features), "--dtype", "f32", "--out", data], "penalty_cost")
        times = stats.train_rounds(a.neuron, [(name, data, extra) for name, extra in VARIANTS],
                                   a.rounds, a.epochs, a.threads, "penalty_cost")
        base = times["plain"]
        print(f"{'variant':<12} {'epoch s (median)':>17} {'min-max':>19} {'ratio':>7} {'ratio min-max':>15}")
        for name, _ in VARIANTS:
            t = times[name]
            ratios = [x / b for x, b in zip(t, base)]
            print(f"{name:<12} {statistics.median(t):>17.4f} {min(t):>9.4f}-{max(t):<9.4f} "
                  f"{statistics.median(ratios):>7.3f} {min(ratios):>7.3f}-{max(ratios):<7.3f}")
        print(f"({a.rounds} interleaved rounds of {a.epochs} epochs; ratio = variant / plain "
              f"in the same round)")


if __name__ == "__main__":
    main()
