#!/usr/bin/env python3
"""The bench harness: throughput, roofline and convergence of neuron on
millions of generated points, side by side with the peers a user would reach
for, written as a table, CSV/JSON and gnuplot PNGs. Run it through
scripts/bench, which installs and builds what it needs.

Every number it prints or writes was measured in this run; a peer that is not
installed is skipped with a line saying so. Each figure is a set of
interleaved repetitions (neuron bench alternates trainer epochs and streaming
reads; here neuron and each peer alternate) summarised by bench/stats.py, the
harness's copy of src/stats.c: median, quartiles, min, max, count, and a
noisy flag when the spread stays wide after the bounded re-measurement.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import classify
import stats

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_PY = "/usr/bin/python3"  # Debian's python, where python3-numpy & co. live


T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


# Threads pinned to cores, one per core: a thread that migrates in the middle
# of a measurement takes its cache with it. Set for every command the
# harness runs, unless the caller chose otherwise.
PIN = {"OMP_PROC_BIND": os.environ.get("OMP_PROC_BIND", "close"),
       "OMP_PLACES": os.environ.get("OMP_PLACES", "cores")}


def run(cmd, **kw):
    """Run a command; return (stdout, seconds). Raise on failure."""
    t0 = time.perf_counter()
    kw.setdefault("env", dict(os.environ, **PIN))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err.strip()}")
    return out, time.perf_counter() - t0


def run_rss(cmd):
    """Peak resident memory of a command in bytes, from GNU time (`time`
    package), or None when it is missing. Not from wait4 here: the peak of a
    child forked from this Python process counts Python's own pages too."""
    gnu_time = "/usr/bin/time"
    if not os.path.exists(gnu_time):
        return None
    p = subprocess.run([gnu_time, "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr.strip()}")
    return int(p.stderr.strip().splitlines()[-1]) * 1024


def machine(neuron):
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = next((l.split(":", 1)[1].split() for l in text.splitlines()
                      if l.startswith("flags")), [])
        info["flags"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "amx_tile")
                         if f in flags]
    except OSError:
        info["cpu"] = platform.processor() or "unknown"
    info["cores"] = os.cpu_count()
    info["threads"] = len(os.sched_getaffinity(0))  # replaced by neuron bench's own count
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc:
        info["compiler"] = subprocess.run([cc, "--version"], capture_output=True,
                                          text=True).stdout.splitlines()[0]
    info["neuron"] = subprocess.run([neuron, "--version"], capture_output=True,
                                    text=True).stdout.strip()
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    info["commit"] = git.stdout.strip() if git.returncode == 0 else "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
    if dirty.returncode == 0 and dirty.stdout.strip():
        info["commit"] += "+changes"
    return info


def gen(neuron, path, rows, features, dtype):
    if not os.path.exists(path):
        out, secs = run([neuron, "gen", "--rows", str(rows), "--features", str(features),
                         "--dtype", dtype, "--dist", "normal", "--out", path])
        log(f"  generated {path}: {rows} x {features} {dtype} in {secs:.2f} s")
    return path


# ----------------------------------------------------------- throughput --

def llc(o, neuron):
    """The last-level cache as neuron finds it (sysfs, sysconf, or a stated
    default), from a bench of a tiny file."""
    path = os.path.join(o.out, "data", "llc_probe.npy")
    gen(neuron, path, 4096, 1, "f32")
    dest = os.path.join(o.out, "raw", "llc_probe.json")
    run([neuron, "bench", "--data", path, "--algos", "batch", "--threads", "1", "--reps", "1",
         "--warmup", "0", "--quiet", "--out", dest])
    with open(dest) as f:
        b = json.load(f)
    return {"bytes": b["llc_bytes"], "level": b["llc_level"], "source": b["llc_source"]}


def rows_for(o, cache, dtype, d):
    """Rows of the (dtype, d) file: o.rows grown until the file is 4.5x the
    last-level cache, so that a fraction of the read is a fraction of the
    memory bandwidth. Quick runs grow too: a file that fits in the cache is
    read at whatever speed the VM's cache placement gives that run (measured:
    a 16 MB file's two-thread fraction of the read moved 0.37-0.65 between
    two consecutive quick runs, while every file beyond 4x the cache stayed
    within 6%). Only --rows keeps its count (labelled cache-resident where
    it is)."""
    if o.fixed_rows:
        return o.rows
    per_row = (d + 1) * {"f16": 2, "f32": 4, "f64": 8}[dtype]
    return max(o.rows, -(-int(4.5 * cache["bytes"]) // per_row))


def throughput(o, neuron, files):
    rows = []
    algos = "batch,minibatch:65536,minibatch:4096,sgd,exact"
    for (dtype, d), path in files.items():
        log(f"throughput: {dtype}, {d} feature(s), threads 1 and all ({o.reps} interleaved "
            f"epoch/read pairs, up to {o.rounds} rounds)")
        dest = os.path.join(o.out, "raw", f"bench_{dtype}_{d}.json")
        # f16 widens in the blocked pass only: sgd and exact train on a
        # widened f32 copy made per run, whose figures would be f32's plus it
        run([neuron, "bench", "--data", path, "--threads", "1,all",
             "--algos", "batch,minibatch:65536,minibatch:4096" if dtype == "f16" else algos,
             "--reps", str(o.reps), "--max-rounds", str(o.rounds), "--quiet", "--out", dest])
        with open(dest) as f:
            b = json.load(f)
        o.max_threads = b["max_threads"]
        for r in b["results"]:
            r.update(dtype=dtype, features=d, rows=b["rows"], bytes_per_epoch=b["bytes_per_epoch"])
            t = r.get("epoch_seconds") or r["run_seconds"]
            q = r["read_over_epoch"]
            r.update(epoch_n=t["n"], epoch_min=t["min"], epoch_q1=t["q1"], epoch_q3=t["q3"],
                     epoch_max=t["max"], ratio_q1=q["q1"], ratio_q3=q["q3"], ratio_min=q["min"],
                     ratio_max=q["max"], ratio_spread=q["spread"], noisy="noisy" in r["flags"],
                     epoch_spread=t["spread"], epoch_noisy=t["noisy"],
                     faster_than_read="epoch faster than read" in r["flags"])
            rows.append(r)
    return rows


# ---------------------------------------------------------- convergence --

def history(path):
    """(epoch, loss, seconds of that epoch) per line of a --history file; the
    loss column is loss_before (batch, sgd) or batch_loss_mean (minibatch)."""
    with open(path) as f:
        return [(int(r["epoch"]), float(r.get("loss_before") or r["batch_loss_mean"]),
                 float(r["epoch_seconds"]))
                for r in csv.DictReader(f)]


def convergence(o, neuron, path):
    """Loss against epochs and seconds for each algorithm on one file, with
    the closed-form optimum as the floor."""
    raw = os.path.join(o.out, "raw")
    out, _ = run([neuron, "train", "--data", path, "--algo", "ols", "--quiet",
                  "--report", os.path.join(raw, "conv_ols.json")])
    ols = json.loads(out)
    floor = ols["train_loss"]
    e = o.conv_epochs
    runs = [
        ("batch", ["--algo", "batch", "--lr", "0.1", "--epochs", str(e)]),
        ("exact", ["--algo", "batch", "--exact", "--lr", "0.1", "--epochs", str(e)]),
        ("minibatch:65536", ["--algo", "minibatch", "--batch", "65536", "--lr", "0.1",
                             "--epochs", str(max(2, e // 10))]),
        ("minibatch:4096", ["--algo", "minibatch", "--batch", "4096", "--lr", "0.1",
                            "--epochs", str(max(2, e // 10))]),
        ("sgd", ["--algo", "sgd", "--lr", "0.001", "--epochs", str(max(2, e // 25))]),
        ("sgd-exact", ["--algo", "sgd", "--exact", "--lr", "0.001", "--epochs",
                       str(max(2, e // 25))]),
    ]
    curves = {}
    for name, args in runs:
        log(f"convergence: {name}")
        h = os.path.join(raw, f"conv_{name.replace(':', '_')}.csv")
        out, _ = run([neuron, "train", "--data", path, "--quiet", "--history", h] + args)
        rep = json.loads(out)
        hist = history(h)
        # time before the first epoch (--exact's pass of statistics) counts.
        # History entry e is the loss at the weights epoch e starts from
        # (batch, exact, sgd): that is the state after e - 1 epochs, at the
        # time through epoch e - 1, and the final model's loss closes the
        # curve. Minibatch's history holds the mean of its batches' losses
        # during the epoch, a different quantity: its curve is instead the
        # loss at the weights each epoch ends with, measured off the clock
        # by training k epochs for each k (the run is deterministic, so they
        # are the first k epochs of this one), at this run's time through k.
        setup = max(0.0, rep["seconds"] - sum(s for _, _, s in hist))
        t, pts = setup, []
        if name.startswith("minibatch"):
            if "batch" in curves:  # the same zero start: batch's first loss
                pts.append(dict(curves["batch"]["points"][0], seconds=setup))
            for k, (ep, _, secs) in enumerate(hist, 1):
                t += secs
                a = list(args)
                a[a.index("--epochs") + 1] = str(k)
                kout, _ = run([neuron, "train", "--data", path, "--quiet"] + a)
                loss = json.loads(kout)["train_loss"]
                pts.append({"epoch": ep, "seconds": t, "loss": loss, "gap": loss - floor})
            pts[-1]["final"] = True
        else:
            for ep, loss, secs in hist:
                pts.append({"epoch": ep - 1, "seconds": t, "loss": loss, "gap": loss - floor})
                t += secs
            pts.append({"epoch": hist[-1][0], "seconds": t, "loss": rep["train_loss"],
                        "gap": rep["train_loss"] - floor, "final": True})
        target = floor * (1 + o.gap)
        hit = next((p for p in pts if p["loss"] <= target), None)
        curves[name] = {
            "lr": float(args[args.index("--lr") + 1]),
            "points": pts,
            "final_loss": rep["train_loss"],
            "reach_epoch": hit["epoch"] if hit else None,
            "reach_seconds": hit["seconds"] if hit else None,
        }
    return {"floor": floor, "ols_seconds": ols["seconds"], "gap_target": o.gap,
            "curves": curves}


# ---------------------------------------------------------------- peers --

def have_module(mod):
    return subprocess.run([PEER_PY, "-c", f"import {mod}"], capture_output=True).returncode == 0


def peers(o, neuron, files, tp):
    res, skipped = [], []
    if o.no_peers:
        return res, ["peers: skipped (--no-peers)"]
    if not os.path.exists(PEER_PY):
        return res, [f"peers: skipped, {PEER_PY} is not installed"]

    allt = max(r["threads"] for r in tp)
    raw = os.path.join(o.out, "raw")
    plan = [("numpy", "numpy_gd.py", "batch", o.peer_epochs, 0),
            ("torch", "torch_linear.py", "batch", o.peer_epochs, 0),
            ("sklearn", "sklearn_sgd.py", "sgd", max(3, o.peer_epochs // 2), o.sgd_rows)]
    mods = {"numpy": "numpy", "torch": "torch", "sklearn": "sklearn"}
    for peer, script, algo, epochs, nrows in plan:
        if not have_module(mods[peer]):
            skipped.append(f"peers: {peer} skipped: python3 cannot import {mods[peer]} "
                           f"(Debian package python3-{mods[peer]})")
            continue
        for (dtype, d), path in files.items():
            if dtype != "f32":
                continue
            threads = 1 if algo == "sgd" else allt
            log(f"peer: {peer} {algo}, f32, {d} feature(s), alternating with neuron {algo} "
                f"at {threads} thread(s)")
            cmd = [PEER_PY, os.path.join(HERE, "peers", script), "--data", path,
                   "--epochs", str(epochs), "--lr", "0.001" if algo == "sgd" else "0.1"]
            if nrows:
                cmd += ["--rows", str(nrows)]
            if peer == "torch":
                cmd += ["--threads", str(allt)]
            dest = os.path.join(raw, f"peer_{peer}_{d}_neuron.json")
            last = {}

            # seconds per sample of one process each: neuron's median epoch
            # (after its own warm-up epoch), the peer's (after its first)
            def ours():
                # at least 10 epochs, each timed over 5 ms of back-to-back
                # epochs (bench's --min-time): neuron's sub-millisecond
                # epochs would otherwise bring their jitter into the ratio
                run([neuron, "bench", "--data", path, "--algos", algo, "--threads", str(threads),
                     "--reps", str(max(epochs, 10)), "--warmup", "1", "--max-rounds", "1", "--quiet",
                     "--out", dest])
                with open(dest) as f:
                    b = json.load(f)
                last["neuron"] = b["results"][0]
                return b["results"][0]["epoch_seconds"]["median"] / b["rows"]

            def theirs():
                out, _ = run(cmd)
                r = json.loads(out.strip().splitlines()[-1])
                last["peer"] = r
                return r["epoch_seconds_median"] / r["rows"]

            try:
                m = stats.measure_pair(ours, theirs, warmup=1, reps=o.peer_reps,
                                       max_rounds=o.rounds)
            except (RuntimeError, ValueError, IndexError, KeyError) as e:
                skipped.append(f"peers: {peer} on f32 x {d} failed, not reported: {e}")
                continue
            r = dict(last["peer"])
            q = m["ratio"]  # peer's time per sample over neuron's: neuron / peer speed
            r.update(samples_per_second=1 / m["sb"]["median"],
                     neuron_samples_per_second=1 / m["sa"]["median"],
                     neuron_threads=threads, speedup=q["median"], speedup_q1=q["q1"],
                     speedup_q3=q["q3"], speedup_min=q["min"], speedup_max=q["max"],
                     pairs=q["n"], rounds=m["rounds"], warmup_pairs=m["warmup"],
                     noisy=q["noisy"], spread=q["spread"],
                     peer_seconds_per_sample=m["b"], neuron_seconds_per_sample=m["a"])
            r.pop("epoch_seconds", None)
            res.append(r)
    return res, skipped


def tutorial(o, neuron):
    """neuron tutorial against the same experiment in CPython, after checking
    that both print the same bytes."""
    py = shutil.which("python3") or PEER_PY
    script = os.path.join(HERE, "peers", "tutorial.py")
    a, _ = run([neuron, "tutorial"])
    b, _ = run([py, script])
    if a != b:
        raise RuntimeError("neuron tutorial and bench/peers/tutorial.py print different output")
    res = {"identical_output": True, "runs": {}}
    # alternated, one process each, wall time from fork to exit (as
    # hyperfine counts it; hyperfine itself cannot alternate two commands)
    log(f"tutorial: neuron and python alternated, {o.tutorial_runs} pairs a round")
    m = stats.measure_pair(lambda: run([neuron, "tutorial"])[1], lambda: run([py, script])[1],
                           warmup=1, reps=o.tutorial_runs, max_rounds=o.rounds)
    for name, key in (("neuron", "sa"), ("python", "sb")):
        res["runs"][name] = dict(m[key], median_seconds=m[key]["median"], runs=m[key]["n"],
                                 tool="python timer, alternated")
    q = m["ratio"]
    res.update(speedup=q["median"], speedup_min=q["min"], speedup_max=q["max"],
               speedup_q1=q["q1"], speedup_q3=q["q3"], noisy=q["noisy"], pairs=q["n"],
               warmup_pairs=m["warmup"])
    res["python"] = subprocess.run([py, "--version"], capture_output=True,
                                   text=True).stdout.strip()
    return res


def memory(o, neuron, path):
    rss = run_rss([neuron, "train", "--data", path, "--epochs", "3", "--quiet"])
    if rss is None:
        log("memory: skipped, /usr/bin/time (Debian package time) is not installed")
        return None
    return {"file": os.path.basename(path), "file_bytes": os.path.getsize(path), "peak_rss": rss}


# -------------------------------------------------------------- outputs --

def write_csv(path, rows, keys):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def label(r):
    return r["algo"] + (f":{r['batch']}" if r.get("batch") else "")


ALGO_ORDER = ["batch", "minibatch:65536", "minibatch:4096", "sgd"]


def gp_str(text):
    """A gnuplot double-quoted string (\n is a line break in it)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def bar_layout(tp):
    """Groups (dtype, features, threads) and the algorithms in them, each bar
    at x = group * (algorithms + 1) + algorithm + 1."""
    groups = sorted({(r["dtype"], r["features"], r["threads"]) for r in tp if r["algo"] != "exact"},
                    key=lambda g: (g[0], g[1], g[2]))
    names = [a for a in ALGO_ORDER if any(label(r) == a for r in tp)]
    names += sorted({label(r) for r in tp if r["algo"] != "exact"} - set(names))
    bars = []
    for gi, g in enumerate(groups):
        for ai, a in enumerate(names):
            r = next((r for r in tp if (r["dtype"], r["features"], r["threads"]) == g
                      and label(r) == a), None)
            if r:
                bars.append((gi * (len(names) + 1) + ai + 1, ai, r))
    tics = []
    for gi, (dtype, d, t) in enumerate(groups):
        cached = any(r["regime"] == "cache-resident" for r in tp
                     if (r["dtype"], r["features"], r["threads"]) == (dtype, d, t))
        text = (f"{dtype}, {d} feature{'s' if d > 1 else ''}\n{t} thread{'s' if t > 1 else ''}"
                + ("\ncache-resident" if cached else ""))
        tics.append(f"{gp_str(text)} {gi * (len(names) + 1) + (len(names) + 1) / 2:g}")
    return groups, names, bars, tics


def bar_plot(o, path, title, ylabel, tp, value, extra, notes):
    """Bars per algorithm in groups, min-max error bars, labels for
    whatever a bar cannot show (notes(r, x) -> list of (y, text))."""
    groups, names, bars, tics = bar_layout(tp)
    dat = os.path.join(o.out, "raw")
    plots, labels = [], []
    for ai, a in enumerate(names):
        p = os.path.join(dat, f"bars_{os.path.basename(path)[:-4]}_{ai}.dat")
        with open(p, "w") as f:
            for x, bi, r in bars:
                if bi != ai:
                    continue
                v = value(r)
                if v is not None:
                    f.write(f"{x} {v[0]:.6g} {v[1]:.6g} {v[2]:.6g}\n")
                for y, align, text in notes(r, x):
                    # rotated: right-aligned text runs down from (x, y), left up
                    labels.append(f"set label {gp_str(text)} at {x},{y} rotate by 90 {align} "
                                  f"font ',8' front\n")
        plots.append(f"'{p}' using 1:2 with boxes lc {ai + 1} title {gp_str(a)}")
        plots.append(f"'{p}' using 1:2:3:4 with yerrorbars lc rgb 'black' pt 0 notitle")
    script = ("set terminal pngcairo size 1500,760 noenhanced font ',10'\n"
              f"set output '{path}'\nset title {gp_str(title)}\n"
              "set style fill solid 0.7 border -1\nset boxwidth 0.85\nset tmargin 4\n"
              f"set xtics ({', '.join(tics)}) scale 0\nset bmargin 6\n"
              f"set xrange [0:{len(groups) * (len(names) + 1)}]\n"
              f"set grid ytics\nset key outside right top\nset ylabel {gp_str(ylabel)}\n"
              + extra + "".join(labels) + f"plot {', '.join(plots)}\n")
    subprocess.run([shutil.which("gnuplot")], input=script, text=True, check=True)


def plots(o, info, tp, conv):
    gp = shutil.which("gnuplot")
    if not gp:
        log("plots: skipped, gnuplot is not installed")
        return []
    tag = f"{info.get('cpu', '?')}, {info['cores']} cores, {info['date']}"
    dat = os.path.join(o.out, "raw")
    made = []
    # throughput: samples/s of the median epoch; bars from the slowest to
    # the fastest epoch
    bar_plot(o, os.path.join(o.out, "throughput.png"),
             f"neuron throughput: {tag}\nsamples/s of the median epoch, error bars from the "
             f"slowest to the fastest epoch (warm-up excluded)", "samples / s per epoch (log)", tp,
             lambda r: (r["rows"] / r["epoch_seconds_median"], r["rows"] / r["epoch_max"],
                        r["rows"] / r["epoch_min"]),
             "set logscale y\nset yrange [*:*]\n",
             lambda r, x: [])
    made.append(os.path.join(o.out, "throughput.png"))
    # roofline: read / epoch per interleaved pair; 100% is the read itself
    clip = 120.0

    def roof_value(r):
        if r["faster_than_read"]:
            return None
        return (100 * r["roofline"], 100 * r["ratio_q1"], min(clip, 100 * r["ratio_q3"]))

    def roof_notes(r, x):
        notes = []
        if r["faster_than_read"]:
            q = r["read_over_epoch"]["median"]
            notes.append((95, "right", f"epoch faster than read (x{q:.2f}): measurement problem, "
                                       "no bar"))
        else:
            if 100 * r["ratio_q3"] > clip:
                notes.append((clip - 1, "right",
                              f"error bar to {100 * r['ratio_q3']:.0f}%, clipped"))
            if r["noisy"]:
                notes.append((1, "left", "noisy"))
        return notes

    bar_plot(o, os.path.join(o.out, "roofline.png"),
             f"neuron roofline: {tag}\nepoch vs a streaming read of the same bytes: median of "
             f"the interleaved pairs' read/epoch, error bars q1-q3; axis clipped at "
             f"{clip:.0f}%, clips labelled", "read time / epoch time (%)", tp, roof_value,
             f"set yrange [0:{clip}]\n"
             "set arrow from graph 0, first 100 to graph 1, first 100 nohead lw 2 dt 2 "
             "lc rgb 'red' front\n"
             "set label 'the roof: a plain streaming read = 100%' at graph 0.01, first 103 "
             "tc rgb 'red' front\n", roof_notes)
    made.append(os.path.join(o.out, "roofline.png"))
    # convergence: gap to the optimum against epochs and against seconds
    plot_e, plot_s, clamped = [], [], 0
    for name, c in conv["curves"].items():
        p = os.path.join(dat, f"conv_{name.replace(':', '_')}.dat")
        with open(p, "w") as f:
            for pt in c["points"]:
                if pt.get("final") and not name.startswith("minibatch"):
                    continue
                # a time of 0 (no epoch yet) is "?" on a log axis; a loss at
                # or below the optimum (rounding) is drawn at 1e-16, counted
                secs = f"{pt['seconds']:.6g}" if pt["seconds"] > 0 else "?"
                clamped += pt["gap"] <= 1e-16
                f.write(f"{pt['epoch']} {secs} {max(pt['gap'], 1e-16):.6g}\n")
        what = (" (loss at epoch-end weights)" if name.startswith("minibatch")
                else " (loss at epoch-start weights)")
        title = gp_str(f"{name}, lr {c['lr']:g}{what}")
        plot_e.append(f"'{p}' using 1:3 with linespoints title {title}")
        plot_s.append(f"'{p}' using 2:3 with linespoints title {gp_str(name)}")
    note = (f"set label {gp_str(f'{clamped} point(s) at or below the optimum drawn at 1e-16')} "
            "at graph 0.02, graph 0.04 front\n" if clamped else "")
    title = gp_str(f"train MSE minus the least-squares optimum ({conv['floor']:.6g}); "
                   f"minibatch losses measured off the clock: {tag}")
    script = (f"set terminal pngcairo size 1500,650 noenhanced font ',10'\n"
              f"set output '{os.path.join(o.out, 'convergence.png')}'\n"
              f"set multiplot layout 1,2 title {title}\n"
              f"set logscale y\nset grid\nset key top right\nset format y '%.0e'\n"
              f"set xlabel 'epochs done'\nset xrange [0:*]\nset ylabel 'train MSE - optimum'\n"
              + note + f"plot {', '.join(plot_e)}\n"
              f"set logscale x\nset format x '%g'\nset xrange [*:*]\nunset label\n"
              f"set key bottom left\n"
              f"set xlabel 'seconds of training (wall, cumulative, epochs only + set-up)'\n"
              f"plot {', '.join(plot_s)}\nunset multiplot\n")
    subprocess.run([gp], input=script, text=True, check=True)
    made.append(os.path.join(o.out, "convergence.png"))
    return made


def f16_vs_f32(tp):
    """The f16 batch epoch over the f32 one per row (issue 17's target: at
    most 0.6 on 10M x 16; the files may hold different rows, each sized to
    the cache): medians of the two files' runs in this harness run, which
    are not interleaved pair by pair; bench/f16_cost.py interleaves them."""
    lines = []
    for r in tp:
        if r["algo"] != "batch" or r["dtype"] != "f16":
            continue
        f32 = next((q for q in tp if q["algo"] == "batch" and q["dtype"] == "f32"
                    and q["features"] == r["features"] and q["threads"] == r["threads"]), None)
        if f32:
            ratio = (r["epoch_seconds_median"] / r["rows"]) / (f32["epoch_seconds_median"]
                                                              / f32["rows"])
            lines.append(f"  {r['features']:>2} feature(s), {r['threads']} thread(s): {ratio:.3f}")
    if lines:
        print("\nf16 / f32 batch epoch per row (medians of this run; target <= 0.6 on 10M x 16):")
        print("\n".join(lines))


def table(info, tp, conv, peer_rows, skipped, tut, mem):
    print(f"\nneuron bench: {info.get('cpu')}, {info['cores']} cores, {info['date']}, "
          f"commit {info['commit']}; threads pinned: OMP_PROC_BIND={PIN['OMP_PROC_BIND']} "
          f"OMP_PLACES={PIN['OMP_PLACES']}")
    c = info.get("llc", {})
    print(f"last-level cache {c.get('bytes', 0) / 2**20:.0f} MiB ({c.get('source')}); a file "
          "under 4x that is cache-resident: its 'of read' is of a cached read, not of the "
          "memory bandwidth")
    print("each figure: 1 warm-up pair discarded, then interleaved (epoch, read) pairs; epoch: "
          "median [min-max] over n; of read: median of read/epoch per pair (q1-q3)")
    print(f"\n{'algorithm':<16} {'d':>3} {'type':>4} {'thr':>3} {'epoch ms':>9} "
          f"{'[min-max]':>17} {'n':>3} {'samples/s':>10} {'of read (q1-q3)':>18}  regime / flags")
    for r in tp:
        flags = [r["regime"]] + (["NOISY"] if r["noisy"] else [])
        if r["epoch_noisy"] and not r["noisy"]:  # the ratio held, the speed moved
            flags.append(f"epoch times noisy (spread {100 * r['epoch_spread']:.0f}%)")
        if r["algo"] == "exact":  # epochs read nothing: passes, not bandwidth
            print(f"{label(r):<16} {r['features']:>3} {r['dtype']:>4} {r['threads']:>3} "
                  f"{1e3 * r['seconds']:>9.2f} [{1e3 * r['epoch_min']:>7.2f}-"
                  f"{1e3 * r['epoch_max']:<7.2f}] {r['epoch_n']:>3} {'-':>10} "
                  f"{r['passes']:>10.2f} reads  {', '.join(flags)} ({r['epochs']} epochs "
                  "and the pass of statistics, per run)")
            continue
        if r["faster_than_read"]:
            roof = "-"
            flags.append(f"EPOCH FASTER THAN READ (x{r['read_over_epoch']['median']:.2f}): "
                         "measurement problem")
        else:
            roof = (f"{100 * r['roofline']:.1f}% ({100 * r['ratio_q1']:.0f}-"
                    f"{100 * r['ratio_q3']:.0f})")
        print(f"{label(r):<16} {r['features']:>3} {r['dtype']:>4} {r['threads']:>3} "
              f"{1e3 * r['epoch_seconds_median']:>9.3f} [{1e3 * r['epoch_min']:>7.3f}-"
              f"{1e3 * r['epoch_max']:<7.3f}] {r['epoch_n']:>3} {r['samples_per_second']:>10.3g} "
              f"{roof:>18}  {', '.join(flags)}")
    f16_vs_f32(tp)
    print(f"\nconvergence (f32, 16 features): optimum MSE {conv['floor']:.9g} "
          f"(ols in {conv['ols_seconds']:.3f} s); reach = first epoch within "
          f"{conv['gap_target']:g} relative of it")
    print("(reach: epochs done and seconds spent; minibatch losses are at each epoch's end "
          "weights, measured off the clock)")
    print(f"{'algorithm':<16} {'lr':>6} {'final MSE':>14} {'reach epoch':>12} {'reach s':>9}")
    for name, c in conv["curves"].items():
        re = "-" if c["reach_epoch"] is None else str(c["reach_epoch"])
        rs = "-" if c["reach_seconds"] is None else f"{c['reach_seconds']:.3f}"
        print(f"{name:<16} {c['lr']:>6g} {c['final_loss']:>14.9g} {re:>12} {rs:>9}")
    if peer_rows or skipped:
        print()
        if peer_rows:
            print("peers: neuron and the peer alternated, one process each, 1 warm-up pair "
                  "discarded; neuron/peer is the median of the per-pair ratios [min-max]")
            print(f"{'peer':<8} {'algo':<6} {'d':>3} {'rows':>9} {'samples/s':>10} "
                  f"{'neuron':>10} {'neuron/peer [min-max]':>24} {'n':>3}  flags")
        for r in peer_rows:
            sp = f"{r['speedup']:.1f}x [{r['speedup_min']:.1f}-{r['speedup_max']:.1f}]"
            print(f"{r['peer']:<8} {r['algo']:<6} {r['features']:>3} {r['rows']:>9} "
                  f"{r['samples_per_second']:>10.3g} {r['neuron_samples_per_second']:>10.3g} "
                  f"{sp:>24} {r['pairs']:>3}  {'NOISY' if r['noisy'] else ''}")
        for s in skipped:
            print(s)
    if tut:
        n, p = tut["runs"]["neuron"], tut["runs"]["python"]
        print(f"\ntutorial (100 x 100000 epochs, identical output, alternated): neuron "
              f"{1e3 * n['median_seconds']:.1f} ms, {tut['python']} "
              f"{1e3 * p['median_seconds']:.0f} ms (medians of {tut['pairs']} pairs): "
              f"{tut['speedup']:.0f}x [{tut['speedup_min']:.0f}-{tut['speedup_max']:.0f}]"
              f"{' NOISY' if tut['noisy'] else ''}")
    if mem:
        print(f"memory: train on {mem['file']} ({mem['file_bytes'] / 2**20:.0f} MiB): peak RSS "
              f"{mem['peak_rss'] / 2**20:.0f} MiB")
    noisy = sum(r["noisy"] for r in tp) + sum(r["noisy"] for r in peer_rows) + \
        bool(tut and tut["noisy"])
    wrong = sum(r["faster_than_read"] for r in tp)
    if noisy or wrong:
        print(f"\nflagged: {noisy} noisy figure(s), {wrong} epoch(s) faster than their read; "
              "the machine was busy or changed speed: run again on a quiet machine before "
              "quoting them")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neuron", default=os.path.join(ROOT, "build", "neuron"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench"))
    ap.add_argument("--rows", type=int, default=None,
                    help="rows per file, kept exactly (without it: 10M, --quick 2M, each "
                         "grown until the file is 4.5x the last-level cache)")
    ap.add_argument("--reps", type=int, default=20,
                    help="interleaved epoch/read pairs per round for each throughput figure")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds at most while a figure's spread stays above 10%%")
    ap.add_argument("--peer-epochs", type=int, default=10, help="epochs of each peer process")
    ap.add_argument("--peer-reps", type=int, default=5, help="neuron/peer pairs per round")
    ap.add_argument("--conv-epochs", type=int, default=200)
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--sgd-rows", type=int, default=1_000_000,
                    help="rows for sklearn's SGD and the classification solvers' fits")
    ap.add_argument("--tutorial-runs", type=int, default=5, help="neuron/python pairs per round")
    ap.add_argument("--quick", action="store_true",
                    help="fewer repetitions and epochs, 2M rows before growing, 200k for "
                         "the per-sample peers (about 10 minutes on 2 cores)")
    ap.add_argument("--no-peers", action="store_true")
    o = ap.parse_args()
    o.fixed_rows = o.rows is not None
    if o.rows is None:
        o.rows = 10_000_000
    if o.quick:
        o.rows, o.reps, o.conv_epochs = min(o.rows, 2_000_000), 10, 120
        o.peer_epochs, o.peer_reps = 6, 3
        o.sgd_rows, o.tutorial_runs = min(o.sgd_rows, 200_000), 3
    os.makedirs(os.path.join(o.out, "raw"), exist_ok=True)
    os.makedirs(os.path.join(o.out, "data"), exist_ok=True)
    neuron = os.path.abspath(o.neuron)
    info = machine(neuron)
    info["llc"] = cache = llc(o, neuron)
    info["pinning"] = dict(PIN)
    log(f"bench: {info.get('cpu')}, {info['cores']} cores; last-level cache "
        f"{cache['bytes'] / 2**20:.0f} MiB ({cache['source']}); results in {o.out}")
    files = {}
    for dtype in ("f32", "f64", "f16"):
        for d in (1, 16):
            n = rows_for(o, cache, dtype, d)
            files[(dtype, d)] = gen(neuron, os.path.join(o.out, "data", f"{dtype}_{d}_{n}.npy"),
                                    n, d, dtype)
    tp = throughput(o, neuron, files)
    info["threads"] = o.max_threads
    conv = convergence(o, neuron, files[("f32", 16)])
    peer_rows, skipped = peers(o, neuron, files, tp)
    for s in skipped:
        log(s)
    tut = tutorial(o, neuron)
    mem = memory(o, neuron, files[("f32", 1)])
    # bench/classify.py: the classification rows, on f32 files sized as these
    cls = classify.bench(o, neuron, lambda d: rows_for(o, cache, "f32", d))
    result = {"machine": info, "rows": o.rows, "quick": o.quick, "throughput": tp,
              "convergence": conv, "peers": peer_rows, "peers_skipped": skipped,
              "tutorial": tut, "memory": mem, "classify": cls}
    with open(os.path.join(o.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    write_csv(os.path.join(o.out, "throughput.csv"), tp,
              ["algo", "batch", "dtype", "features", "threads", "kernel", "rows", "regime",
               "epochs", "epoch_n", "rounds", "epoch_seconds_median", "epoch_min", "epoch_q1",
               "epoch_q3", "epoch_max", "epoch_seconds_mean", "seconds", "samples_per_second",
               "gb_per_second", "stream_seconds_median", "stream_gb_per_second", "roofline",
               "ratio_min", "ratio_q1", "ratio_q3", "ratio_max", "ratio_spread", "passes",
               "noisy", "epoch_spread", "epoch_noisy", "faster_than_read", "final_loss"])
    write_csv(os.path.join(o.out, "convergence.csv"),
              [dict(algo=k, **p) for k, c in conv["curves"].items() for p in c["points"]],
              ["algo", "epoch", "seconds", "loss", "gap"])
    write_csv(os.path.join(o.out, "peers.csv"), peer_rows,
              ["peer", "algo", "features", "rows", "dtype", "epochs", "epoch_seconds_median",
               "samples_per_second", "neuron_samples_per_second", "neuron_threads", "speedup",
               "speedup_min", "speedup_q1", "speedup_q3", "speedup_max", "spread", "pairs",
               "rounds", "noisy", "version"])
    made = plots(o, info, tp, conv)
    table(info, tp, conv, peer_rows, skipped, tut, mem)
    classify.table(cls)
    print(f"\nresults: {o.out}/results.json, throughput.csv, convergence.csv, peers.csv")
    if made:
        print("plots: " + ", ".join(made))


if __name__ == "__main__":
    main()
