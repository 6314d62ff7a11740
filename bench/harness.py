#!/usr/bin/env python3
"""The bench harness: throughput, roofline and convergence of neuron on
millions of generated points, side by side with the peers a user would reach
for, written as a table, CSV/JSON and gnuplot PNGs. Run it through
scripts/bench, which installs and builds what it needs.

Every number it prints or writes was measured in this run; a peer that is not
installed is skipped with a line saying so.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_PY = "/usr/bin/python3"  # Debian's python, where python3-numpy & co. live


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    """Run a command; return (stdout, seconds). Raise on failure."""
    t0 = time.perf_counter()
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

def throughput(o, neuron, files):
    rows = []
    algos = "batch,minibatch:65536,minibatch:4096,sgd,exact"
    for (dtype, d), path in files.items():
        log(f"throughput: {dtype}, {d} feature(s), threads 1 and all ({o.epochs} epochs each)")
        dest = os.path.join(o.out, "raw", f"bench_{dtype}_{d}.json")
        run([neuron, "bench", "--data", path, "--algos", algos, "--threads", "1,all",
             "--epochs", str(o.epochs), "--quiet", "--out", dest])
        with open(dest) as f:
            b = json.load(f)
        o.max_threads = b["max_threads"]
        for r in b["results"]:
            r.update(dtype=dtype, features=d, rows=b["rows"], bytes_per_epoch=b["bytes_per_epoch"])
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
        # time through epoch e - 1. Minibatch's entry is the mean of its
        # batches' losses during epoch e, shown at the end of epoch e.
        setup = max(0.0, rep["seconds"] - sum(s for _, _, s in hist))
        during = name.startswith("minibatch")
        t, pts = setup, []
        for ep, loss, secs in hist:
            if during:
                t += secs
                pts.append({"epoch": ep, "seconds": t, "loss": loss, "gap": loss - floor})
            else:
                pts.append({"epoch": ep - 1, "seconds": t, "loss": loss, "gap": loss - floor})
                t += secs
        # the final model's loss, measured after the last epoch
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

    def ours(dtype, d, algo, threads):
        for r in tp:
            if (r["dtype"], r["features"], r["algo"], r["threads"]) == (dtype, d, algo, threads):
                return r
        return None

    allt = max(r["threads"] for r in tp)
    plan = [("numpy", "numpy_gd.py", "batch", o.epochs, 0),
            ("torch", "torch_linear.py", "batch", o.epochs, 0),
            ("sklearn", "sklearn_sgd.py", "sgd", max(2, o.epochs // 5), o.sgd_rows)]
    mods = {"numpy": "numpy", "torch": "torch", "sklearn": "sklearn"}
    for peer, script, algo, epochs, nrows in plan:
        if not have_module(mods[peer]):
            skipped.append(f"peers: {peer} skipped: python3 cannot import {mods[peer]} "
                           f"(Debian package python3-{mods[peer]})")
            continue
        for (dtype, d), path in files.items():
            if dtype != "f32":
                continue
            log(f"peer: {peer} {algo}, f32, {d} feature(s)")
            cmd = [PEER_PY, os.path.join(HERE, "peers", script), "--data", path,
                   "--epochs", str(epochs), "--lr", "0.001" if algo == "sgd" else "0.1"]
            if nrows:
                cmd += ["--rows", str(nrows)]
            if peer == "torch":
                cmd += ["--threads", str(allt)]
            try:
                out, _ = run(cmd)
                r = json.loads(out.strip().splitlines()[-1])
            except (RuntimeError, ValueError, IndexError) as e:
                skipped.append(f"peers: {peer} on f32 x {d} failed, not reported: {e}")
                continue
            mine = ours("f32", d, algo, 1 if algo == "sgd" else allt)
            r["neuron_samples_per_second"] = mine["samples_per_second"] if mine else None
            r["speedup"] = (mine["samples_per_second"] / r["samples_per_second"]) if mine else None
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
    hf = shutil.which("hyperfine")
    for name, cmd, runs in (("neuron", [neuron, "tutorial"], o.tutorial_runs * 4),
                            ("python", [py, script], o.tutorial_runs)):
        log(f"tutorial: {name}, {runs} runs")
        if hf:
            dest = os.path.join(o.out, "raw", f"tutorial_{name}.json")
            run([hf, "-N", "--warmup", "1", "--runs", str(runs), "--export-json", dest,
                 shlex.join(cmd)])
            with open(dest) as f:
                times = json.load(f)["results"][0]["times"]
        else:
            times = [run(cmd)[1] for _ in range(runs)]
        res["runs"][name] = {"median_seconds": statistics.median(times), "runs": len(times),
                             "tool": "hyperfine" if hf else "python timer"}
    res["speedup"] = res["runs"]["python"]["median_seconds"] / res["runs"]["neuron"]["median_seconds"]
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


def plots(o, info, tp, conv):
    gp = shutil.which("gnuplot")
    if not gp:
        log("plots: skipped, gnuplot is not installed")
        return []
    tag = f"{info.get('cpu', '?')}, {info['cores']} cores, {info['date']}"
    dat = os.path.join(o.out, "raw")
    made = []
    # throughput and roofline: one bar group per configuration
    with open(os.path.join(dat, "tp.dat"), "w") as f:
        f.write("config sps roof\n")
        for r in tp:
            if r["algo"] == "exact":
                continue
            f.write(f"\"{label(r)} {r['dtype']} d={r['features']} t={r['threads']}\" "
                    f"{r['samples_per_second']:.6g} {100 * r['roofline']:.4g}\n")
    common = ("set terminal pngcairo size 1400,700 noenhanced font ',10'\n"
              "set style data histograms\nset style fill solid 0.8 border -1\n"
              "set xtics rotate by -50 scale 0\nset grid ytics\nset key off\n")
    for name, col, ylabel, extra in (
            ("throughput.png", 2, "samples / s per epoch (log)", "set logscale y\n"),
            ("roofline.png", 3, "% of a streaming read of the same bytes (clipped at 150)",
             "set yrange [0:150]\n")):
        script = (common + extra + f"set output '{os.path.join(o.out, name)}'\n"
                  f"set title 'neuron {name[:-4]}: {tag}'\nset ylabel '{ylabel}'\n"
                  f"plot '{os.path.join(dat, 'tp.dat')}' using {col}:xtic(1) skip 1\n")
        subprocess.run([gp], input=script, text=True, check=True)
        made.append(os.path.join(o.out, name))
    # convergence: gap to the optimum against epochs and against seconds
    plot_e, plot_s = [], []
    for name, c in conv["curves"].items():
        p = os.path.join(dat, f"conv_{name.replace(':', '_')}.dat")
        with open(p, "w") as f:
            for pt in c["points"]:
                if not pt.get("final"):  # a time of 0 (no epoch yet) is "?" on a log axis
                    secs = f"{pt['seconds']:.6g}" if pt["seconds"] > 0 else "?"
                    f.write(f"{pt['epoch']} {secs} {max(pt['gap'], 1e-16):.6g}\n")
        plot_e.append(f"'{p}' using 1:3 with linespoints title '{name} (lr {c['lr']:g})'")
        plot_s.append(f"'{p}' using 2:3 with linespoints title '{name}'")
    script = (f"set terminal pngcairo size 1400,600 noenhanced font ',10'\n"
              f"set output '{os.path.join(o.out, 'convergence.png')}'\n"
              f"set multiplot layout 1,2 title 'loss - least-squares optimum "
              f"({conv['floor']:.6g}): {tag}'\n"
              f"set logscale y\nset grid\nset key bottom left\nset format y '%.0e'\n"
              f"set xlabel 'epochs done'\nset xrange [0:*]\nset ylabel 'train MSE - optimum'\n"
              f"plot {', '.join(plot_e)}\n"
              f"set logscale x\nset format x '%g'\nset xrange [*:*]\n"
              f"set xlabel 'seconds (wall, cumulative)'\n"
              f"plot {', '.join(plot_s)}\nunset multiplot\n")
    subprocess.run([gp], input=script, text=True, check=True)
    made.append(os.path.join(o.out, "convergence.png"))
    return made


def table(info, tp, conv, peer_rows, skipped, tut, mem):
    print(f"\nneuron bench: {info.get('cpu')}, {info['cores']} cores, {info['date']}, "
          f"commit {info['commit']}")
    print(f"\n{'algorithm':<16} {'d':>3} {'type':>4} {'thr':>3} {'epoch ms':>10} "
          f"{'samples/s':>11} {'GB/s':>7} {'stream':>7} {'roofline':>8}")
    for r in tp:
        if r["algo"] == "exact":  # epochs read nothing: passes, not bandwidth
            print(f"{label(r):<16} {r['features']:>3} {r['dtype']:>4} {r['threads']:>3} "
                  f"{1e3 * r['epoch_seconds_mean']:>10.3f} {'-':>11} {'-':>7} "
                  f"{r['stream_gb_per_second']:>7.2f} {'-':>8}  ({r['epochs']} epochs in "
                  f"{1e3 * r['seconds']:.1f} ms = {r['passes']:.1f} streaming passes)")
            continue
        print(f"{label(r):<16} {r['features']:>3} {r['dtype']:>4} {r['threads']:>3} "
              f"{1e3 * r['epoch_seconds_median']:>10.3f} {r['samples_per_second']:>11.4g} "
              f"{r['gb_per_second']:>7.2f} {r['stream_gb_per_second']:>7.2f} "
              f"{100 * r['roofline']:>7.1f}%")
    print(f"\nconvergence (f32, 16 features): optimum MSE {conv['floor']:.9g} "
          f"(ols in {conv['ols_seconds']:.3f} s); reach = first epoch within "
          f"{conv['gap_target']:g} relative of it")
    print("(reach: epochs done and seconds spent; a minibatch loss is the mean of its batches'"
          " losses during the epoch)")
    print(f"{'algorithm':<16} {'lr':>6} {'final MSE':>14} {'reach epoch':>12} {'reach s':>9}")
    for name, c in conv["curves"].items():
        re = "-" if c["reach_epoch"] is None else str(c["reach_epoch"])
        rs = "-" if c["reach_seconds"] is None else f"{c['reach_seconds']:.3f}"
        print(f"{name:<16} {c['lr']:>6g} {c['final_loss']:>14.9g} {re:>12} {rs:>9}")
    if peer_rows or skipped:
        print(f"\n{'peer':<8} {'algo':<6} {'d':>3} {'rows':>9} {'samples/s':>11} "
              f"{'neuron':>11} {'neuron/peer':>11}")
        for r in peer_rows:
            sp = "-" if r["speedup"] is None else f"{r['speedup']:.1f}x"
            ns = "-" if r["neuron_samples_per_second"] is None else \
                f"{r['neuron_samples_per_second']:.4g}"
            print(f"{r['peer']:<8} {r['algo']:<6} {r['features']:>3} {r['rows']:>9} "
                  f"{r['samples_per_second']:>11.4g} {ns:>11} {sp:>11}")
        for s in skipped:
            print(s)
    if tut:
        n, p = tut["runs"]["neuron"], tut["runs"]["python"]
        print(f"\ntutorial (100 x 100000 epochs, identical output): neuron "
              f"{1e3 * n['median_seconds']:.1f} ms, {tut['python']} "
              f"{1e3 * p['median_seconds']:.0f} ms (medians of {n['runs']} and {p['runs']} "
              f"runs): {tut['speedup']:.0f}x")
    if mem:
        print(f"memory: train on {mem['file']} ({mem['file_bytes'] / 2**20:.0f} MiB): peak RSS "
              f"{mem['peak_rss'] / 2**20:.0f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neuron", default=os.path.join(ROOT, "build", "neuron"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench"))
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--epochs", type=int, default=20, help="epochs per throughput measurement")
    ap.add_argument("--conv-epochs", type=int, default=200)
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--sgd-rows", type=int, default=1_000_000, help="rows for sklearn's SGD")
    ap.add_argument("--tutorial-runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="about a minute: 2M rows, fewer epochs")
    ap.add_argument("--no-peers", action="store_true")
    o = ap.parse_args()
    if o.quick:
        o.rows, o.epochs, o.conv_epochs = min(o.rows, 2_000_000), 7, 120
        o.sgd_rows, o.tutorial_runs = min(o.sgd_rows, 200_000), 3
    os.makedirs(os.path.join(o.out, "raw"), exist_ok=True)
    os.makedirs(os.path.join(o.out, "data"), exist_ok=True)
    neuron = os.path.abspath(o.neuron)
    info = machine(neuron)
    log(f"bench: {info.get('cpu')}, {info['cores']} cores; {o.rows} rows; results in {o.out}")
    files = {}
    for dtype in ("f32", "f64"):
        for d in (1, 16):
            files[(dtype, d)] = gen(neuron, os.path.join(o.out, "data", f"{dtype}_{d}_{o.rows}.npy"),
                                    o.rows, d, dtype)
    tp = throughput(o, neuron, files)
    info["threads"] = o.max_threads
    conv = convergence(o, neuron, files[("f32", 16)])
    peer_rows, skipped = peers(o, neuron, files, tp)
    for s in skipped:
        log(s)
    tut = tutorial(o, neuron)
    mem = memory(o, neuron, files[("f32", 1)])
    result = {"machine": info, "rows": o.rows, "quick": o.quick, "throughput": tp,
              "convergence": conv, "peers": peer_rows, "peers_skipped": skipped,
              "tutorial": tut, "memory": mem}
    with open(os.path.join(o.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    write_csv(os.path.join(o.out, "throughput.csv"), tp,
              ["algo", "batch", "dtype", "features", "threads", "kernel", "rows", "epochs",
               "epoch_seconds_median", "epoch_seconds_mean", "seconds", "samples_per_second",
               "gb_per_second", "stream_gb_per_second", "roofline", "passes", "final_loss"])
    write_csv(os.path.join(o.out, "convergence.csv"),
              [dict(algo=k, **p) for k, c in conv["curves"].items() for p in c["points"]],
              ["algo", "epoch", "seconds", "loss", "gap"])
    write_csv(os.path.join(o.out, "peers.csv"), peer_rows,
              ["peer", "algo", "features", "rows", "dtype", "epochs", "epoch_seconds_median",
               "samples_per_second", "neuron_samples_per_second", "speedup", "version"])
    made = plots(o, info, tp, conv)
    table(info, tp, conv, peer_rows, skipped, tut, mem)
    print(f"\nresults: {o.out}/results.json, throughput.csv, convergence.csv, peers.csv")
    if made:
        print("plots: " + ", ".join(made))


if __name__ == "__main__":
    main()
