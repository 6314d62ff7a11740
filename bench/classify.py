"""Classification rows of the bench, called from
bench/harness.py: throughput of the logistic and perceptron trainers as a
fraction of a streaming read of the same file, convergence of the logistic
trainers against `--algo newton` (the optimum, as ols is for the squared
error), and the classification peers on the same files: scikit-learn
LogisticRegression (lbfgs), SGDClassifier (log_loss) and Perceptron,
LIBLINEAR -s 0 and -s 2, PyTorch BCEWithLogitsLoss and numpy full-batch
logistic GD (bench/peers/*classif*).

Data: `neuron gen --task classify --dist normal` with weights of norm 2 and
bias 0.25, so that the classes overlap and the logistic optimum is finite.
Throughput comes from `neuron bench --activation ...`: interleaved (epoch,
streaming read) pairs, summarised as median, quartiles, min and max with the
noisy and faster-than-read flags, exactly as the regression rows; convergence
from `neuron train --activation ... --report --history`.

A neuron without `bench --activation` (an older build) gets its rows skipped
with a line saying so; the peers still run.
"""
import csv
import json
import os
import subprocess
import sys
import time

import stats

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_PY = "/usr/bin/python3"  # Debian's python, where python3-sklearn & co. live


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd):
    """Run a command; return its stdout. Raise RuntimeError on failure."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def weights(d):
    """d weights of Euclidean norm 2, alternating in sign"""
    w = 2 / d**0.5
    return ",".join(f"{w if j % 2 == 0 else -w:.17g}" for j in range(d))


def gen(o, neuron, d, rows):
    path = os.path.join(o.out, "data", f"cls_f32_{d}_{rows}.npy")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        run([neuron, "gen", "--task", "classify", "--rows", str(rows), "--features", str(d),
             "--weights", weights(d), "--bias", "0.25", "--dist", "normal", "--dtype", "f32",
             "--out", path])
        log(f"  generated {path}: {rows} x {d} labels in {time.perf_counter() - t0:.2f} s")
    return path


def has_activation(neuron):
    p = subprocess.run([neuron, "bench", "--help"], capture_output=True, text=True)
    return "--activation" in p.stdout


def train(o, neuron, path, tag, args):
    """One `neuron train` run; returns its report (and history path)."""
    raw = os.path.join(o.out, "raw")
    rep = os.path.join(raw, f"cls_{tag}.json")
    hist = os.path.join(raw, f"cls_{tag}.csv")
    run([neuron, "train", "--data", path, "--quiet", "--report", rep, "--history", hist] + args)
    with open(rep) as f:
        return json.load(f), hist


# ---------------------------------------------------------- throughput --

TRAINERS = [  # name, activation, neuron bench --algos element, learning rate
    ("sigmoid batch", "sigmoid", "batch", "1"),
    ("sigmoid minibatch:65536", "sigmoid", "minibatch:65536", "1"),
    ("sigmoid sgd", "sigmoid", "sgd", "0.01"),
    ("step batch", "step", "batch", "0.1"),
    ("step sgd", "step", "sgd", "0.1"),
]


def throughput(o, neuron, files):
    """Each trainer through `neuron bench --activation`: interleaved
    (epoch, streaming read) pairs at every core, the same measurement as the
    regression rows (median, quartiles, min, max, noisy and faster-than-read
    flags), so its fraction of the read is a median of per-pair ratios."""
    rows = []
    for d, path in files.items():
        for name, act, algo, lr in TRAINERS:
            log(f"classify throughput: {name}, f32, {d} feature(s) ({o.reps} interleaved "
                f"epoch/read pairs, up to {o.rounds} rounds)")
            dest = os.path.join(o.out, "raw",
                                f"cls_tp_{name.replace(' ', '_').replace(':', '_')}_{d}.json")
            try:
                run([neuron, "bench", "--data", path, "--activation", act, "--algos", algo,
                     "--lr", lr, "--threads", "all", "--reps", str(o.reps), "--max-rounds",
                     str(o.rounds), "--quiet", "--out", dest])
                with open(dest) as f:
                    b = json.load(f)
                r = b["results"][0]
            except (RuntimeError, ValueError, KeyError, IndexError) as e:
                log(f"classify: {name} on {d} feature(s) failed, not reported: {e}")
                continue
            t, q, rd = r["epoch_seconds"], r["read_over_epoch"], r["read_seconds"]
            ep = t["median"]
            rows.append({
                "trainer": name, "features": d, "dtype": "f32", "rows": b["rows"],
                "threads": r["threads"], "epochs": r["reps"], "rounds": r["rounds"],
                "epoch_seconds_median": ep, "epoch_min": t["min"], "epoch_max": t["max"],
                "samples_per_second": b["rows"] / ep,
                "gb_per_second": b["bytes_per_epoch"] / ep / 1e9,
                "stream_gb_per_second": r["stream_gb_per_second"], "stream_spread": rd["spread"],
                "roofline": r["roofline"], "ratio_q1": q["q1"], "ratio_q3": q["q3"],
                "ratio_min": q["min"], "ratio_max": q["max"], "ratio_spread": q["spread"],
                "noisy": "noisy" in r["flags"],
                "faster_than_read": "epoch faster than read" in r["flags"],
                "regime": r["regime"], "kernel": r["kernel"], "final_loss": r["final_loss"],
            })
    return rows


# ---------------------------------------------------------- convergence --

def history(path):
    with open(path) as f:
        # columns named for what they hold (doc/formats.md): the loss at the
        # epoch's start weights (minibatch: its batches' mean), the epoch's
        # own seconds
        return [(int(r["epoch"]), float(r.get("loss_before") or r["batch_loss_mean"]),
                 float(r["epoch_seconds"])) for r in csv.DictReader(f)]


def convergence(o, neuron, path):
    """Logistic loss against epochs and seconds for each trainer, against
    newton's optimum; newton's own passes to 1e-8 of it."""
    try:
        opt, hist = train(o, neuron, path, "conv_newton",
                          ["--activation", "sigmoid", "--algo", "newton", "--epochs", "50"])
    except RuntimeError as e:
        log(f"classify convergence: newton failed, no convergence rows: {e}")
        return None
    floor = opt["train_loss"]
    e = o.conv_epochs
    runs = [
        ("newton", None),
        ("batch", ["--algo", "batch", "--lr", "1", "--epochs", str(e)]),
        ("minibatch:65536", ["--algo", "minibatch", "--batch", "65536", "--lr", "1",
                             "--epochs", str(max(2, e // 10))]),
        ("sgd", ["--algo", "sgd", "--lr", "0.01", "--epochs", str(max(2, e // 25))]),
    ]
    curves = {}
    for name, args in runs:
        log(f"classify convergence: {name}")
        if args is None:
            rep, h = opt, hist
        else:
            try:
                rep, h = train(o, neuron, path, f"conv_{name.replace(':', '_')}",
                               ["--activation", "sigmoid"] + args)
            except RuntimeError as err:
                log(f"classify convergence: {name} failed, not reported: {err}")
                continue
        # history entry e: the loss at the weights epoch e starts from, at
        # the time through epoch e - 1 (minibatch: the mean during epoch e)
        during = name.startswith("minibatch")
        t, pts = max(0.0, rep["seconds"] - sum(s for _, _, s in history(h))), []
        for ep, loss, secs in history(h):
            if during:
                t += secs
            pts.append({"epoch": ep if during else ep - 1, "seconds": t, "loss": loss,
                        "gap": loss - floor})
            if not during:
                t += secs
        pts.append({"epoch": rep["epochs_run"], "seconds": t, "loss": rep["train_loss"],
                    "gap": rep["train_loss"] - floor, "final": True})
        target = floor * (1 + (1e-8 if name == "newton" else o.gap))
        hit = next((p for p in pts if p["loss"] <= target), None)
        curves[name] = {"points": pts, "final_loss": rep["train_loss"],
                        "reach_epoch": hit["epoch"] if hit else None,
                        "reach_seconds": hit["seconds"] if hit else None,
                        "target": "1e-8" if name == "newton" else f"{o.gap:g}"}
    return {"optimum": floor, "newton_seconds": opt["seconds"],
            "newton_iterations": opt["epochs_run"], "gap_target": o.gap, "curves": curves}


# ---------------------------------------------------------------- peers --

PEERS = [  # label, module, script, extra arguments, rows option, neuron trainer compared
    ("numpy batch", "numpy", "numpy_classify.py", ["--lr", "1"], None, "sigmoid batch"),
    ("torch batch", "torch", "torch_classify.py", ["--lr", "1"], None, "sigmoid batch"),
    ("sklearn sgd", "sklearn", "sklearn_classify.py", ["--model", "sgd", "--lr", "0.01"],
     "sgd_rows", "sigmoid sgd"),
    ("sklearn perceptron", "sklearn", "sklearn_classify.py",
     ["--model", "perceptron", "--lr", "0.1"], "sgd_rows", "step sgd"),
    ("sklearn lbfgs", "sklearn", "sklearn_classify.py", ["--model", "logistic"], None, "newton"),
    ("liblinear -s 0", "liblinearutil", "liblinear_classify.py",
     ["--solver", "0", "--eps", "1e-4"], None, "newton"),
    ("liblinear -s 2", "liblinearutil", "liblinear_classify.py",
     ["--solver", "2", "--eps", "1e-4"], None, "newton"),
]


def peers(o, neuron, files, tp, conv, solver_file):
    """Each peer alternated with neuron's trainer on the same file, pair by
    pair (bench/stats.py's measure_pair, as the regression peers): the
    figure is the median of the per-pair ratios of time per sample, with its
    quartiles, min, max and noisy flag. neuron's side is `neuron bench` of
    the trainer compared (at least 10 epochs, each timed over bench's
    --min-time) or, against the solvers, `neuron train --algo newton`'s time
    per iteration."""
    res, skipped = [], []
    if o.no_peers:
        return res, ["classify peers: skipped (--no-peers)"]
    if not os.path.exists(PEER_PY):
        return res, [f"classify peers: skipped, {PEER_PY} is not installed"]
    allt = max((r["threads"] for r in tp if r["threads"]), default=0)
    limits = {"sgd_rows": o.sgd_rows}
    trainers = {name: (act, algo, lr) for name, act, algo, lr in TRAINERS}
    raw = os.path.join(o.out, "raw")
    for label, mod, script, extra, rows_opt, mine in PEERS:
        if mod and subprocess.run([PEER_PY, "-c", f"import {mod}"],
                                  capture_output=True).returncode != 0:
            pkg = "python3-liblinear" if mod == "liblinearutil" else f"python3-{mod}"
            skipped.append(f"classify peers: {label} skipped: python3 cannot import {mod} "
                           f"(Debian package {pkg})")
            continue
        for d, path in files.items():
            if mine == "newton":
                if d != max(files):
                    continue  # the solvers: on the widest rows only
                # whole fits, several per figure: on --sgd-rows rows of their own
                path = solver_file
            log(f"classify peer: {label}, f32, {d} feature(s), alternating with neuron {mine}")
            epochs = o.peer_epochs if "batch" in label else max(2, o.peer_epochs // 5)
            cmd = [PEER_PY, os.path.join(HERE, "peers", script), "--data", path,
                   "--epochs", str(epochs)] + extra
            if rows_opt:
                cmd += ["--rows", str(limits[rows_opt])]
            if label.startswith("torch"):
                cmd += ["--threads", str(allt or 0)]
            tag = f"{label.replace(' ', '_')}_{d}"
            last = {}

            def ours(tag=tag, path=path, epochs=epochs, mine=mine):
                if mine == "newton":
                    r, _ = train(o, neuron, path, f"peer_{tag}",
                                 ["--activation", "sigmoid", "--algo", "newton", "--epochs", "50"])
                    last["neuron"] = r
                    return r["seconds"] / r["rows"]  # the whole fit
                act, algo, lr = trainers[mine]
                dest = os.path.join(raw, f"cls_peer_{tag}_neuron.json")
                run([neuron, "bench", "--data", path, "--activation", act, "--algos", algo,
                     "--lr", lr, "--threads", "all", "--reps", str(max(epochs, 10)),
                     "--warmup", "1", "--max-rounds", "1", "--quiet", "--out", dest])
                with open(dest) as f:
                    b = json.load(f)
                last["neuron"] = b["results"][0]
                return b["results"][0]["epoch_seconds"]["median"] / b["rows"]

            def theirs(cmd=cmd, mine=mine):
                r = json.loads(run(cmd).strip().splitlines()[-1])
                last["peer"] = r
                # per epoch; the solvers: one whole fit, as newton's
                return (r["seconds"] if mine == "newton" else r["epoch_seconds_median"]) / r["rows"]

            try:
                m = stats.measure_pair(ours, theirs, warmup=1, reps=o.peer_reps,
                                       max_rounds=o.rounds)
            except (RuntimeError, ValueError, IndexError, KeyError) as e:
                skipped.append(f"classify peers: {label} on f32 x {d} failed, not reported: {e}")
                continue
            r = dict(last["peer"])
            q = m["ratio"]  # the peer's time per sample over neuron's
            r.pop("epoch_seconds", None)
            r.update(label=label, neuron_trainer=mine,
                     peer_samples_per_second=1 / m["sb"]["median"],
                     neuron_samples_per_second=1 / m["sa"]["median"],
                     speedup=q["median"], speedup_q1=q["q1"], speedup_q3=q["q3"],
                     speedup_min=q["min"], speedup_max=q["max"], pairs=q["n"],
                     rounds=m["rounds"], warmup_pairs=m["warmup"], noisy=q["noisy"],
                     spread=q["spread"])
            res.append(r)
    return res, skipped


# -------------------------------------------------------------- outputs --

def write_csv(path, rows, keys):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def bench(o, neuron, rows_for):
    """Everything above; returns the results for results.json (and writes
    classify_*.csv under o.out). rows_for(d): the rows of the d-feature file
    (the harness's rule: large enough to be read from memory)."""
    rows = {d: rows_for(d) for d in (1, 16)}
    files = {d: gen(o, neuron, d, rows[d]) for d in (1, 16)}
    res = {"rows": rows, "throughput": [], "convergence": None, "peers": [], "skipped": []}
    if has_activation(neuron):
        res["throughput"] = throughput(o, neuron, files)
        res["convergence"] = convergence(o, neuron, files[16])
    else:
        res["skipped"].append("classify: neuron bench has no --activation in this build; "
                              "neuron's classification rows are skipped")
    solver_file = gen(o, neuron, 16, min(rows[16], o.sgd_rows))
    res["peers"], skipped = peers(o, neuron, files, res["throughput"], res["convergence"],
                                  solver_file)
    res["skipped"] += skipped
    for s in res["skipped"]:
        log(s)
    write_csv(os.path.join(o.out, "classify_throughput.csv"), res["throughput"],
              ["trainer", "features", "dtype", "rows", "threads", "epochs",
               "epoch_seconds_median", "samples_per_second", "gb_per_second",
               "stream_gb_per_second", "stream_spread", "roofline", "final_loss",
               "rounds", "epoch_min", "epoch_max", "ratio_q1", "ratio_q3", "ratio_min",
               "ratio_max", "ratio_spread", "noisy", "faster_than_read", "regime", "kernel"])
    if res["convergence"]:
        write_csv(os.path.join(o.out, "classify_convergence.csv"),
                  [dict(trainer=k, **p) for k, c in res["convergence"]["curves"].items()
                   for p in c["points"]],
                  ["trainer", "epoch", "seconds", "loss", "gap"])
    write_csv(os.path.join(o.out, "classify_peers.csv"), res["peers"],
              ["label", "features", "rows", "dtype", "epochs", "epoch_seconds_median",
               "peer_samples_per_second", "neuron_trainer", "neuron_samples_per_second",
               "speedup", "speedup_min", "speedup_max", "pairs", "noisy", "final_loss", "loss_kind", "errors", "iterations", "seconds",
               "version"])
    return res


def table(res):
    if not res:
        return
    rows = ", ".join(f"{n} rows at d={d}" for d, n in res["rows"].items()) \
        if isinstance(res["rows"], dict) else f"{res['rows']} rows"
    print(f"\nclassification ({rows}, f32, labels from the logistic model)")
    if res["throughput"]:
        print(f"{'trainer':<24} {'d':>3} {'thr':>3} {'epoch ms':>10} {'min-max ms':>17} "
              f"{'n':>3} {'samples/s':>11} {'GB/s':>7} {'stream':>7} {'of read (min-max %)':>22}")
        for r in res["throughput"]:
            if r["roofline"] is None:  # faster than the read: a measurement problem
                roof = "-"
            else:
                roof = (f"{100 * r['roofline']:.1f}% ({100 * r['ratio_min']:.0f}-"
                        f"{100 * r['ratio_max']:.0f})")
            flags = []
            if r["noisy"]:
                flags.append(f"NOISY (spread {100 * r['ratio_spread']:.0f}%)")
            if r["faster_than_read"]:
                flags.append("EPOCH FASTER THAN READ: measurement problem")
            if r["regime"] != "memory":
                flags.append(r["regime"])
            print(f"{r['trainer']:<24} {r['features']:>3} {r['threads'] or 0:>3} "
                  f"{1e3 * r['epoch_seconds_median']:>10.3f} "
                  f"{1e3 * r['epoch_min']:>8.3f}-{1e3 * r['epoch_max']:<8.3f} {r['epochs']:>3} "
                  f"{r['samples_per_second']:>11.4g} {r['gb_per_second']:>7.2f} "
                  f"{r['stream_gb_per_second']:>7.2f} {roof:>22}"
                  + ("  " + ", ".join(flags) if flags else ""))
    c = res["convergence"]
    if c:
        print(f"\nconvergence (16 features): newton optimum {c['optimum']:.12g} in "
              f"{c['newton_iterations']} iterations, {c['newton_seconds']:.3f} s; reach = first "
              f"epoch within the target (relative) of it")
        print(f"{'trainer':<16} {'target':>7} {'final loss':>16} {'reach epoch':>12} {'reach s':>9}")
        for name, k in c["curves"].items():
            re_ = "-" if k["reach_epoch"] is None else str(k["reach_epoch"])
            rs = "-" if k["reach_seconds"] is None else f"{k['reach_seconds']:.3f}"
            print(f"{name:<16} {k['target']:>7} {k['final_loss']:>16.12g} {re_:>12} {rs:>9}")
    if res["peers"] or res["skipped"]:
        print(f"\n{'peer':<20} {'d':>3} {'rows':>9} {'samples/s':>11} {'loss':>12} "
              f"{'neuron':>11} {'neuron/peer':>11} {'min-max':>13} {'n':>3}")
        for r in res["peers"]:
            flag = f"  NOISY (spread {100 * r['spread']:.0f}%)" if r["noisy"] else ""
            print(f"{r['label']:<20} {r['features']:>3} {r['rows']:>9} "
                  f"{r['peer_samples_per_second']:>11.4g} {r['final_loss']:>12.6g} "
                  f"{r['neuron_samples_per_second']:>11.4g} {r['speedup']:>10.1f}x "
                  f"{r['speedup_min']:>6.1f}-{r['speedup_max']:<6.1f} {r['pairs']:>3}{flag}")
        print("(samples/s per epoch; against the solvers (lbfgs, LIBLINEAR through its Python "
              "binding, loading off the clock) rows / whole fit time on a file of --sgd-rows "
              "rows, newton's to its own convergence; neuron/peer: median of the ratios of "
              "alternated neuron and peer runs)")
        for s in res["skipped"]:
            print(s)
