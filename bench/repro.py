#!/usr/bin/env python3
"""Reproducibility of the bench's ratios: given the results.json of runs made
in pairs (run 1 and 2 are a pair, 3 and 4 the next, ...), print for every
figure (each fraction of the streaming read, each neuron/peer ratio, the
tutorial's speed-up) how far the two runs of each pair differ, as
max(a, b) / min(a, b) - 1, the largest such difference over the pairs, and
the range over all runs (what the README's tables show).
Exit 0 when every figure stays within --limit (15%), 1 otherwise.

    python3 bench/repro.py out/repro/run-1/results.json out/repro/run-2/results.json ...
"""
import argparse
import json
import sys


def figures(res):
    """{name: value} of the ratios a run reports."""
    out = {}
    for r in res["throughput"]:
        lab = r["algo"] + (f":{r['batch']}" if r.get("batch") else "")
        key = f"{lab} {r['dtype']} d={r['features']} t={r['threads']}"
        if r["algo"] == "exact":
            out[f"read passes of {key}"] = r["passes"]
        elif r.get("roofline") is not None:
            out[f"of read: {key}"] = r["roofline"]
        else:  # an epoch faster than the read: no fraction to compare
            out[f"of read: {key}"] = None
    for p in res.get("peers", []):
        out[f"neuron/{p['peer']} {p['algo']} d={p['features']}"] = p["speedup"]
    cls = res.get("classify") or {}
    for r in cls.get("throughput", []):
        key = f"{r['trainer']} f32 d={r['features']} t={r['threads']}"
        out[f"of read: {key}"] = r["roofline"]
    for p in cls.get("peers", []):
        out[f"neuron/{p['label']} (classify) d={p['features']}"] = p["speedup"]
    if res.get("tutorial"):
        out["neuron/python tutorial"] = res["tutorial"]["speedup"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", help="results.json of each run, in pairs")
    ap.add_argument("--limit", type=float, default=0.15)
    o = ap.parse_args()
    if len(o.results) < 2 or len(o.results) % 2:
        ap.error("give the results of an even number of runs (pairs of consecutive runs)")
    runs = []
    for path in o.results:
        with open(path) as f:
            runs.append(json.load(f))
    figs = [figures(r) for r in runs]
    names = sorted(set().union(*figs), key=lambda n: (n.split(":")[0], n))
    npairs = len(runs) // 2
    print(f"{npairs} pair(s) of runs; difference = max(a, b) / min(a, b) - 1 within a pair")
    for i in range(npairs):
        m = runs[2 * i]["machine"]
        print(f"  pair {i + 1}: {m.get('date')} and {runs[2 * i + 1]['machine'].get('date')}, "
              f"{m.get('cpu')}, commit {m.get('commit')}")
    print(f"\n{'figure':<44} " + " ".join(f"{'pair ' + str(i + 1):>9}" for i in range(npairs))
          + f" {'max':>8}  {'range, all runs':>17}")
    worst, bad = 0.0, []
    for n in names:
        diffs = []
        vals = [f[n] for f in figs if f.get(n) is not None]
        rng = f"{min(vals):.3g}-{max(vals):.3g}" if vals else "-"
        for i in range(npairs):
            a, b = figs[2 * i].get(n), figs[2 * i + 1].get(n)
            if a is None or b is None or a <= 0 or b <= 0:
                diffs.append(None)
                continue
            diffs.append(max(a, b) / min(a, b) - 1)
        known = [d for d in diffs if d is not None]
        mx = max(known) if known else None
        if mx is not None:
            worst = max(worst, mx)
            if mx > o.limit:
                bad.append(n)
        cells = " ".join(f"{'-' if d is None else f'{100 * d:.1f}%':>9}" for d in diffs)
        flag = "" if mx is None or mx <= o.limit else "  BEYOND"
        print(f"{n:<44} {cells} {'-' if mx is None else f'{100 * mx:.1f}%':>8}  {rng:>17}{flag}")
    missing = [n for n in names if any(f.get(n) is None for f in figs)]
    print(f"\nlargest difference: {100 * worst:.1f}% (limit {100 * o.limit:.0f}%); "
          f"{len(bad)} figure(s) beyond it" + (f"; {len(missing)} figure(s) missing or flagged "
                                                "in some run" if missing else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
