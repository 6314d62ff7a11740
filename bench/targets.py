#!/usr/bin/env python3
"""The speed targets the issues set, measured side by side in one command.

Each comparison alternates two processes, a, b, a, b, ... after a discarded
warm-up pair (bench/stats.py's measure_pair, the definition src/stats.c
uses), and prints the median of the per-pair ratios with its min-max, the
count, the noisy flag and the target. A fraction of the streaming read comes
from one `neuron bench` run (already interleaved epoch/read pairs). Run it on
a quiet machine: nothing else should share the cores.

    python3 bench/targets.py --neuron build/neuron [--rows 10000000]
        [--sgd-rows 1000000] [--reps 5] [--only NAME,...] [--out out/targets]

Comparisons (NAME):
  minibatch   minibatch:4096 / batch throughput, 2 threads, f32 d = 1, 16
              (>= 0.5 at d = 1, >= 0.7 at d = 16)
  f16         f16 / f32 batch epoch on d = 16 (<= 0.6)
  sgd         neuron sgd / SGDRegressor per-sample throughput, f64 d = 8, 16
              (>= 5)
  logistic    sigmoid batch f32 as a fraction of the read, d = 1 (>= 0.5),
              d = 16 (>= 0.8); neuron / numpy (>= 10) and / PyTorch (>= 5)
              per logistic epoch; sgd / SGDClassifier (>= 5, also alone as
              sgdlogistic); newton passes to 1e-8 of the optimum (<= 10)
  stream      --stream / mapped batch epoch on a 1 GB file (<= 1.25)
  tutorial    `neuron tutorial --fast` as a whole process (<= 1 ms), in the
              same hyperfine run as the floor (bench/startup_floor.c, static
              and dynamic)
  csv         CSV parsing, one thread (>= 300 MB/s)
Standard library only; the peers need Debian's python3-numpy, -sklearn,
-torch (missing ones are skipped with a line saying so).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import stats  # noqa: E402

PEER_PY = "/usr/bin/python3"
ALL = ["minibatch", "f16", "sgd", "logistic", "stream", "tutorial", "csv"]
ALONE = ["sgdlogistic"]  # parts of ALL that --only can name by themselves


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[:300]}")
    return p.stdout


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Targets:
    def __init__(self, o):
        self.o, self.rows = o, []
        os.makedirs(os.path.join(o.out, "data"), exist_ok=True)

    def path(self, name):
        return os.path.join(self.o.out, "data", name)

    def gen(self, name, rows, d, *extra):
        p = self.path(name)
        if not os.path.exists(p):
            run([self.o.neuron, "gen", "--rows", str(rows), "--features", str(d), "--out", p]
                + list(extra))
        return p

    def bench(self, data, algo, threads, extra=()):
        """neuron bench's JSON for one algorithm (interleaved epoch/read pairs)."""
        dest = self.path("bench.json")
        run([self.o.neuron, "bench", "--data", data, "--algos", algo, "--threads", str(threads),
             "--reps", "20", "--quiet", "--out", dest] + list(extra))
        with open(dest) as f:
            b = json.load(f)
        return b, b["results"][0]

    def per_row(self, data, algo, threads, extra=()):
        """A closure: seconds per row of one neuron epoch (median of a process)."""
        def f():
            b, r = self.bench(data, algo, threads, extra)
            return r["epoch_seconds"]["median"] / b["rows"]
        return f

    def peer(self, script, data, args):
        def f():
            out = run([PEER_PY, os.path.join(HERE, "peers", script), "--data", data] + args)
            r = json.loads(out.strip().splitlines()[-1])
            per = r.get("seconds_per_iteration", r["epoch_seconds_median"])
            return per / r["rows"]
        return f

    def pair(self, name, target, ok, a, b):
        """Alternate a and b; the figure is the median of b/a per pair."""
        log(f"targets: {name}")
        try:
            m = stats.measure_pair(a, b, warmup=1, reps=self.o.reps, max_rounds=2)
        except (RuntimeError, ValueError, KeyError, IndexError) as e:
            self.rows.append((name, None, target, f"failed: {e}"))
            return
        q = m["ratio"]
        med, lo, hi = q["median"], q["min"], q["max"]
        flag = ("met" if ok(med) else "NOT MET") + (", noisy" if q["noisy"] else "")
        self.rows.append((name, f"{med:.3g} [{lo:.3g}-{hi:.3g}] n={q['n']}", target, flag))

    def fraction(self, name, target, ok, data, algo, threads, extra=()):
        log(f"targets: {name}")
        try:
            _, r = self.bench(data, algo, threads, extra)
        except RuntimeError as e:
            self.rows.append((name, None, target, f"failed: {e}"))
            return
        q = r["read_over_epoch"]
        flag = ("met" if ok(q["median"]) else "NOT MET") + (", noisy" if q["noisy"] else "")
        flag += ", " + r.get("regime", "")
        self.rows.append((name, f"{q['median']:.3g} [q1-q3 {q['q1']:.3g}-{q['q3']:.3g}] "
                                f"n={q['n']}", target, flag))

    # ---------------------------------------------------------- targets --

    def minibatch(self):
        for d, goal in ((1, 0.5), (16, 0.7)):
            p = self.gen(f"f32_{d}.npy", self.o.rows, d, "--dtype", "f32")
            self.pair(f"minibatch:4096 / batch, f32 d={d}, 2 threads", f">= {goal}",
                      lambda v, g=goal: v >= g, self.per_row(p, "minibatch:4096", 2),
                      self.per_row(p, "batch", 2))

    def f16(self):
        a = self.gen("f32_16.npy", self.o.rows, 16, "--dtype", "f32")
        try:
            b = self.gen("f16_16.npy", self.o.rows, 16, "--dtype", "f16")
        except RuntimeError as e:
            self.rows.append(("f16 / f32 batch epoch, d=16", None, "<= 0.6", f"failed: {e}"))
            return
        self.pair("f16 / f32 batch epoch, d=16, all threads", "<= 0.6", lambda v: v <= 0.6,
                  self.per_row(a, "batch", "all"), self.per_row(b, "batch", "all"))

    def sgd(self):
        for d in (8, 16):
            p = self.gen(f"f64_{d}_sgd.npy", self.o.sgd_rows, d, "--dtype", "f64")
            # SGDRegressor runs on one core whatever the machine has; neuron's
            # rule is one chain too, and a second thread takes the epoch's
            # loss pass off it: both are what a user of each tool gets.
            for th in (1, 2):
                self.pair(f"neuron sgd / SGDRegressor, f64 d={d}, {th} thread(s)", ">= 5",
                          lambda v: v >= 5, self.per_row(p, "sgd", th),
                          self.peer("sklearn_sgd.py", p, ["--epochs", "3", "--lr", "0.001"]))

    def cls(self, name, rows, d):
        w = 2 / d ** 0.5
        ws = ",".join(f"{w if j % 2 == 0 else -w:.17g}" for j in range(d))
        return self.gen(name, rows, d, "--task", "classify", "--weights", ws, "--bias", "0.25",
                        "--dist", "normal", "--dtype", "f32")

    def logistic(self):
        sig = ["--activation", "sigmoid"]
        for d, goal in ((1, 0.5), (16, 0.8)):
            p = self.cls(f"cls_{d}.npy", self.o.rows, d)
            self.fraction(f"sigmoid batch of the read, f32 d={d}, all threads", f">= {goal}",
                          lambda v, g=goal: v >= g, p, "batch", "all", sig)
            for peer, script, goal2 in (("numpy", "numpy_classify.py", 10),
                                        ("PyTorch", "torch_classify.py", 5)):
                self.pair(f"neuron / {peer} logistic epoch, f32 d={d}", f">= {goal2}",
                          lambda v, g=goal2: v >= g, self.per_row(p, "batch", "all", sig),
                          self.peer(script, p, ["--epochs", "4"]))
        self.sgdlogistic()
        # newton: the first iteration count whose loss is within 1e-8 of the optimum
        log("targets: newton passes")
        p = self.cls("cls_16.npy", self.o.rows, 16)
        rep = self.path("newton.json")

        def loss(k):
            run([self.o.neuron, "train", "--data", p, "--activation", "sigmoid", "--algo",
                 "newton", "--epochs", str(k), "--quiet", "--report", rep])
            with open(rep) as f:
                return json.load(f)["train_loss"]
        best = loss(50)
        reach = next((k for k in range(1, 16) if (loss(k) - best) <= 1e-8 * abs(best)), None)
        self.rows.append(("newton iterations to 1e-8 of the optimum, f32 d=16",
                          str(reach) if reach else "> 15", "<= 10",
                          "met" if reach and reach <= 10 else "NOT MET"))

    def sgdlogistic(self):
        p = self.cls("cls_16_sgd.npy", self.o.sgd_rows, 16)
        for th in (1, 2):
            self.pair(f"neuron sgd logistic / SGDClassifier, f32 d=16, {th} thread(s)", ">= 5",
                      lambda v: v >= 5, self.per_row(p, "sgd", th, ["--activation", "sigmoid"]),
                      self.peer("sklearn_classify.py", p, ["--model", "sgd", "--epochs", "3"]))

    def stream(self):
        p = self.gen("f32_4_1GB.npy", 50_000_000, 4, "--dtype", "f32")

        def epoch(extra):
            def f():
                rep = self.path("stream.json")
                run([self.o.neuron, "train", "--data", p, "--algo", "batch", "--epochs", "5",
                     "--quiet", "--report", rep] + extra)
                with open(rep) as fh:
                    return json.load(fh)["epoch_seconds_median"]
            return f
        self.pair("--stream / mapped batch epoch, 1 GB cached", "<= 1.25", lambda v: v <= 1.25,
                  epoch([]), epoch(["--stream"]))

    def tutorial(self):
        """hyperfine -N, in the same run as the floor: bench/startup_floor.c
        (exec, 64 KB written, exit) linked statically and dynamically, so the
        figure can be read against what any process costs on the machine."""
        log("targets: tutorial --fast")
        dest = self.path("hyperfine.json")
        cmds, names = [f"{self.o.neuron} tutorial --fast"], ["tutorial --fast"]
        for link, flags in (("static", ["-static"]), ("dynamic", [])):
            exe = self.path(f"startup_floor_{link}")
            try:
                run(["cc", "-O2", "-o", exe, os.path.join(HERE, "startup_floor.c")] + flags)
            except (RuntimeError, FileNotFoundError) as e:
                log(f"targets: the {link} floor is left out: {e}")
                continue
            cmds.append(exe)
            names.append(f"floor: {link} C program, the same 64 KB out")
        try:
            run(["hyperfine", "-N", "--warmup", "20", "--runs", "300", "--export-json", dest]
                + cmds)
        except (RuntimeError, FileNotFoundError) as e:
            self.rows.append(("tutorial --fast, whole process", None, "<= 1 ms", f"failed: {e}"))
            return
        with open(dest) as f:
            results = json.load(f)["results"]
        for i, (name, r) in enumerate(zip(names, results)):
            t = sorted(r["times"])
            med = t[len(t) // 2]
            self.rows.append((f"{name}, whole process (hyperfine -N)" if i == 0 else name,
                              f"{1e3 * med:.3g} ms [{1e3 * t[0]:.3g}-{1e3 * t[-1]:.3g}] n={len(t)}",
                              "<= 1 ms" if i == 0 else "-",
                              ("met" if med <= 1e-3 else "NOT MET") if i == 0 else "the floor"))

    def csv(self):
        """CSV load time, one thread: ols on the CSV minus ols on the same rows
        as .npy (ols's pass is the same), alternated."""
        npy = self.path("f64_1_csv.npy")
        csvp = self.path("f64_1.csv")
        if not os.path.exists(csvp):
            run([self.o.neuron, "gen", "--rows", "2000000", "--features", "1", "--out", csvp])
        if not os.path.exists(npy):  # the same values (CSV is read as f64)
            run([self.o.neuron, "gen", "--rows", "2000000", "--features", "1", "--dtype", "f64",
                 "--out", npy])
        size = os.path.getsize(csvp)
        env = dict(os.environ, OMP_NUM_THREADS="1")

        def wall(p):
            def f():
                t0 = time.perf_counter()
                run([self.o.neuron, "train", "--data", p, "--algo", "ols", "--quiet",
                     "--threads", "1"], env=env)
                return time.perf_counter() - t0
            return f
        log("targets: csv")
        try:
            m = stats.measure_pair(wall(npy), wall(csvp), warmup=1, reps=self.o.reps,
                                   max_rounds=2)
        except RuntimeError as e:
            self.rows.append(("CSV parsing, one thread", None, ">= 300 MB/s", f"failed: {e}"))
            return
        rates = sorted(size / 1e6 / max(b - a, 1e-9) for a, b in zip(m["a"], m["b"]))
        med = rates[len(rates) // 2]
        self.rows.append((f"CSV parsing, one thread ({size / 1e6:.0f} MB, csv - npy wall time)",
                          f"{med:.0f} MB/s [{rates[0]:.0f}-{rates[-1]:.0f}] n={len(rates)}",
                          ">= 300 MB/s", "met" if med >= 300 else "NOT MET"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--neuron", default="build/neuron")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--sgd-rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=5, help="pairs per round (2 rounds at most)")
    ap.add_argument("--only", default=",".join(ALL))
    ap.add_argument("--out", default="out/targets")
    o = ap.parse_args()
    o.neuron = os.path.abspath(o.neuron)
    t = Targets(o)
    for name in o.only.split(","):
        if name not in ALL + ALONE:
            ap.error(f"--only: unknown comparison {name!r} (one of {', '.join(ALL + ALONE)})")
        getattr(t, name)()
    print(f"targets: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cores, rows {o.rows} (sgd {o.sgd_rows}); ratio: median "
          "[min-max] of the per-pair ratios, n pairs")
    for name, val, target, flag in t.rows:
        print(f"{name:62} {val or '-':>34}  {target:>12}  {flag}")
    with open(os.path.join(o.out, "targets.json"), "w") as f:
        json.dump([dict(zip(("name", "value", "target", "flag"), r)) for r in t.rows], f, indent=1)


if __name__ == "__main__":
    main()
