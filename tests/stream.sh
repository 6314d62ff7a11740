#!/usr/bin/env bash
# --stream: the rows read in chunks instead of mapped give the same bits
# (neuron and neuron-mpi, one file and shards, every algorithm it serves),
# peak memory stays under 64 MiB on a 1 GB file while the mapped run's does
# not (GNU time), and a bad value is still named by file and row.
# Run by scripts/test: tests/stream.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/mpi/common.sh" stream "${1:-build}"

# 2.2 million rows of 4 f32 features: 44 MB, many reads of 3 blocks and a short last one
"$N" gen --rows 2200000 --features 4 --out d.npy >/dev/null
python3 "$tools/split_npy.py" d.npy part 700000,333333
same() { # name, then train's options
  local name=$1; shift
  "$N" train --quiet "$@" --data d.npy --model ref.json --history ref.csv >/dev/null
  cut -d, -f1-2 ref.csv >ref.loss
  local runs=("$N train --stream --data d.npy" "$N train --stream --data part-*.npy")
  [ $have_mpi = 1 ] &&
    runs+=("timeout 60 mpirun --oversubscribe -np 2 $M train --stream --data part-*.npy")
  for run in "${runs[@]}"; do
    rm -f st.json st.csv
    set -f # the pattern is neuron's to expand, not the shell's
    $run --quiet "$@" --model st.json --history st.csv >/dev/null 2>st.err
    set +f
    if cmp -s ref.json st.json && cmp -s ref.loss <(cut -d, -f1-2 st.csv); then
      pass
    else
      fail "$name: '$run' differs from the mapped run: $(head -c 300 st.err)"
    fi
  done
}
same "batch" --algo batch --epochs 4
same "batch, held-out rows off the block grid" --algo batch --epochs 3 --val-split 0.0777
same "minibatch" --algo minibatch --batch 30000 --epochs 2
# batches of 512-row blocks: the threads' team mapped, one pass per batch streamed
same "minibatch B=4096" --algo minibatch --batch 4096 --epochs 1
same "batch --exact" --algo batch --exact --epochs 20
# ols writes no history: compare the models only
"$N" train --quiet --algo ols --data d.npy --model ref.json >/dev/null
"$N" train --quiet --algo ols --data 'part-*.npy' --stream --model st.json >/dev/null
cmp -s ref.json st.json && pass || fail "ols --stream differs"

# a NaN in the second shard, row 5 column 3
python3 - part-001.npy <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
hlen = int.from_bytes(b[8:10], "little")
at = 10 + hlen + (4 * 5 + 2) * 4
b[at:at + 4] = bytes.fromhex("0000c07f")
open(sys.argv[1], "wb").write(b)
PY
"$N" train --quiet --stream --data 'part-*.npy' >/dev/null 2>err.txt
rc=$?
if [ "$rc" = 3 ] && [ "$(grep -c '^neuron: error:' err.txt)" = 1 ] &&
   grep -q "part-001.npy: row 5, column 3: value is NaN" err.txt; then
  pass
else
  fail "NaN while streaming: exit $rc: $(cat err.txt)"
fi

# peak memory on a 1 GB file: 50 million rows of 4 f32 features
"$N" gen --rows 50000000 --features 4 --out big.npy >/dev/null
rss() { /usr/bin/time -f %M "$N" train --quiet --data big.npy --algo batch --epochs 1 "$@" \
          2>&1 >/dev/null | tail -1; }
s=$(rss --stream) m=$(rss)
if [ "$s" -lt $((64 * 1024)) ] && [ "$m" -gt $((64 * 1024)) ]; then
  pass
else
  fail "peak RSS on 1 GB: --stream $s KiB (must be < 65536), mapped $m KiB (expected more)"
fi
echo "stream tests: peak RSS on a 1 GB file: --stream $s KiB, mapped $m KiB"

finish
