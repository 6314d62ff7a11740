"""Benchmark statistics for the Python harness: the same definitions as
src/stats.c (nr_summarize, nr_measure_pair), so that a peer's figure means
what neuron's does. tests/test_stats.c runs this file and checks that both
give the same numbers on the same timings.

    python3 bench/stats.py 1.0 2.5 3 ...   # prints the summary as JSON
"""
import json
import math
import statistics
import sys

NOISY_SPREAD = 0.10  # NR_NOISY_SPREAD: relative interquartile range


def summarize(values, noisy_above=NOISY_SPREAD):
    """n, min, quartiles (type 7: statistics.quantiles' 'inclusive'), max,
    spread = (q3 - q1) / median, and whether spread > noisy_above."""
    v = [float(x) for x in values]
    if not v or not all(math.isfinite(x) for x in v):
        raise ValueError("summarize: needs at least one value, all finite")
    if len(v) == 1:
        q1 = med = q3 = v[0]
    else:
        q1, med, q3 = statistics.quantiles(v, n=4, method="inclusive")
    iqr = q3 - q1
    spread = iqr / abs(med) if med != 0 else (0.0 if iqr == 0 else math.inf)
    return {"n": len(v), "min": min(v), "q1": q1, "median": med, "q3": q3, "max": max(v),
            "spread": spread, "noisy": spread > noisy_above}


def measure_pair(a, b, warmup=1, reps=10, max_rounds=3, noisy_above=NOISY_SPREAD):
    """Run a() and b() (each returns seconds) interleaved: `warmup` pairs
    discarded, then rounds of `reps` pairs while the per-pair ratio b/a stays
    noisy, at most max_rounds rounds; as nr_measure_pair."""
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        for _ in range(reps):
            ta.append(a())
            tb.append(b())
        ratio = summarize([y / x for x, y in zip(ta, tb)], noisy_above)
        if not ratio["noisy"]:
            break
    return {"a": ta, "b": tb, "sa": summarize(ta, noisy_above), "sb": summarize(tb, noisy_above),
            "ratio": ratio, "rounds": rounds, "warmup": warmup}


def round_args(ap):
    """The options of the scripts built on train_rounds (f16_cost.py,
    penalty_cost.py): the binary, the data's shape, epochs, rounds, threads."""
    ap.add_argument("--neuron", default="build/neuron")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--features", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")


def run_or_exit(cmd, who):
    """Run cmd; its stdout, or exit naming `who`, the command and its stderr."""
    import subprocess

    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{who}: {' '.join(cmd)} failed: {p.stderr.strip()}")
    return p.stdout


def train_rounds(neuron, variants, rounds, epochs, threads=0, who="bench"):
    """`neuron train --algo batch` for each variant (name, data file, extra
    arguments) in turn, round by round, so that a change in the machine's
    load hits every variant alike; returns {name: [each round's median epoch
    seconds from the report]}. Exits naming `who` when a run fails."""
    import subprocess

    times = {name: [] for name, _, _ in variants}
    for _ in range(rounds):
        for name, data, extra in variants:
            cmd = [neuron, "train", "--data", data, "--algo", "batch", "--epochs", str(epochs),
                   "--quiet"] + list(extra) + (["--threads", str(threads)] if threads else [])
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"{who}: {' '.join(cmd)} failed: {p.stderr.strip()}")
            times[name].append(json.loads(p.stdout)["epoch_seconds_median"])
    return times


if __name__ == "__main__":
    print(json.dumps(summarize([float(x) for x in sys.argv[1:]])))
