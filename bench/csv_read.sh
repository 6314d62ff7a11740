#!/usr/bin/env bash
# CSV reading speed per thread: `train --algo ols` (one pass) on gen's CSV
# and on the same rows as .npy (mapped, no parsing), one thread each; the
# difference of the medians is the time to parse the CSV, and its size over
# that time the MB/s. Time it on a quiet machine: on a loaded one these are
# not speeds (count instructions instead: see the end of this script).
#   bench/csv_read.sh [BUILD_DIR] [ROWS] [FEATURES]   (build, 2000000, 8)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
rows=${2:-2000000}
features=${3:-8}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/neuron" gen --rows "$rows" --features "$features" --out "$tmp/d.csv" >/dev/null
"$build/neuron" gen --rows "$rows" --features "$features" --out "$tmp/d.npy" >/dev/null
run="--algo ols --threads 1 --quiet"
hyperfine -N -w 2 -r 15 --export-json "$tmp/h.json" \
  "$build/neuron train --data $tmp/d.csv --dtype f32 $run" \
  "$build/neuron train --data $tmp/d.npy $run" >&2
python3 - "$tmp/h.json" "$(stat -c %s "$tmp/d.csv")" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2])
csv, npy = (statistics.median(x["times"]) for x in r)
print(f"CSV {size / 1e6:.1f} MB: median {csv * 1e3:.1f} ms, .npy {npy * 1e3:.1f} ms; "
      f"parse {(csv - npy) * 1e3:.1f} ms = {size / (csv - npy) / 1e6:.0f} MB/s per thread")
# CPU time (mean user + system) instead of wall time: less hurt by other
# programs' load, though their use of the caches still slows it down
csv, npy = (x["user"] + x["system"] for x in r)
print(f"by CPU time: {csv * 1e3:.1f} ms, .npy {npy * 1e3:.1f} ms; "
      f"parse {size / (csv - npy) / 1e6:.0f} MB/s per thread")
PY
# Instructions per byte, repeatable on any machine:
#   OMP_NUM_THREADS=1 valgrind --tool=callgrind --toggle-collect=nr_csv_parse \
#     build/neuron train --data d.csv --algo ols --quiet
# ("Collected" over the file's size).
