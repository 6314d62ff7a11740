#!/usr/bin/env bash
# neuron-mpi scaling on this machine: strong (the same rows on 1 and 2
# ranks) and weak (rows per rank fixed), one thread per rank, with the
# median epoch from --report, and the cost of combining a pass (bench-comm:
# the bit-exact gather of block sums against a plain allreduce).
#   bench/mpi.sh [BUILD_DIR] [ROWS]   (default build, 10000000)
# Output: a table on stdout and out/bench/mpi.json. Figures from a loaded
# machine are not speeds: say so where they are quoted.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
rows=${2:-10000000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
mkdir -p out/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
half=$((rows / 2))
"$build/neuron" gen --rows "$rows" --features 1 --out "$tmp/full.npy" >/dev/null
"$build/neuron" gen --rows "$half" --features 1 --out "$tmp/half.npy" >/dev/null
epoch() { # np, data: median epoch seconds of 30 batch epochs
  mpirun --oversubscribe --bind-to none -np "$1" "$build/neuron-mpi" train --data "$2" \
    --algo batch --epochs 30 --threads 1 --quiet --report "$tmp/r.json" >/dev/null
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["epoch_seconds_median"])' \
    "$tmp/r.json"
}
s1=$(epoch 1 "$tmp/full.npy")
s2=$(epoch 2 "$tmp/full.npy")
w1=$(epoch 1 "$tmp/half.npy")
c1=$(mpirun --oversubscribe -np 2 "$build/neuron-mpi" bench-comm --rows "$rows" --features 1)
c16=$(mpirun --oversubscribe -np 2 "$build/neuron-mpi" bench-comm --rows "$rows" --features 16)
python3 - "$rows" "$s1" "$s2" "$w1" "$c1" "$c16" <<'PY' | tee out/bench/mpi.json
import json, sys
rows, s1, s2, w1 = int(sys.argv[1]), *map(float, sys.argv[2:5])
c1, c16 = json.loads(sys.argv[5]), json.loads(sys.argv[6])
out = {
    "rows": rows, "features": 1, "dtype": "f32", "threads_per_rank": 1,
    "strong": {"np1_epoch_s": s1, "np2_epoch_s": s2, "speedup": s1 / s2},
    "weak": {"np1_rows": rows // 2, "np1_epoch_s": w1, "np2_rows": rows, "np2_epoch_s": s2,
             "efficiency": w1 / s2},
    "comm_1_feature": c1, "comm_16_features": c16,
    "gather_share_of_np2_epoch": c1["gather_seconds_median"] / s2,
}
print(json.dumps(out, indent=1))
PY
