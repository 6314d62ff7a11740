#!/usr/bin/env python3
"""The f16 batch epoch against the f32 one on the same values (issue 17:
at most 0.6x the f32 epoch on 10M x 16).

Generates the same rows (same seed) as f32 and as f16, then runs
`neuron train --algo batch` on each file in turn, round by round (so a
change in the machine's load hits both alike), takes each run's median
epoch time from its report, and prints per type the median over rounds,
the spread (min-max), and the ratio f16 / f32 within each round: its
median and range. Standard library only. Figures mean something only on
a quiet machine.

  python3 bench/f16_cost.py --neuron build/neuron [--rows 10000000]
      [--features 16] [--epochs 10] [--rounds 7] [--threads T] [--kernel K]
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    stats.round_args(ap)
    ap.add_argument("--kernel", default="auto", help="auto, scalar or avx2")
    ap.add_argument("--dir", help="where to put the two files (default: a temporary folder)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        files = {}
        for dtype in ("f32", "f16"):
            files[dtype] = os.path.join(tmp, f"{dtype}.npy")
            stats.run_or_exit([a.neuron, "gen", "--rows", str(a.rows), "--features",
                               str(a.features), "--dist", "normal", "--dtype", dtype, "--out",
                               files[dtype]], "f16_cost")
        times = stats.train_rounds(
            a.neuron, [(dt, path, ["--kernel", a.kernel]) for dt, path in files.items()],
            a.rounds, a.epochs, a.threads, "f16_cost")
        ratios = [h / f for h, f in zip(times["f16"], times["f32"])]
        print(f"{a.rows} x {a.features}, batch, kernel {a.kernel}, {a.rounds} interleaved "
              f"rounds of {a.epochs} epochs")
        print(f"{'dtype':<6} {'epoch s (median)':>17} {'min-max':>19}")
        for dtype, t in times.items():
            print(f"{dtype:<6} {statistics.median(t):>17.4f} {min(t):>9.4f}-{max(t):<9.4f}")
        print(f"f16 / f32 per round: median {statistics.median(ratios):.3f}, "
              f"range {min(ratios):.3f}-{max(ratios):.3f} (target <= 0.6)")


if __name__ == "__main__":
    main()
