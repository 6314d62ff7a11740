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

# A streamed file cut while training (after its load-time check, once the
# first checkpoint shows epochs running): bad input, exit 3, one line naming
# the file and the rows it lacks, within 10 s, and no model, report or
# history; with neuron-mpi the shard of rank 1 is cut and rank 0 says so.
"$N" gen --rows 300000 --features 4 --out cut.npy >/dev/null
cut_midway() { # name, file to cut, expected message (a regex), then the command
  local name=$1 victim=$2 want=$3
  shift 3
  rm -f ck.bin out.json rep.json hist.csv
  set -f
  timeout 60 "$@" --quiet --algo batch --epochs 100000000 --checkpoint ck.bin \
    --checkpoint-every 1 --model out.json --report rep.json --history hist.csv \
    >/dev/null 2>cut.err &
  set +f
  local pid=$! t0
  for _ in $(seq 300); do [ -s ck.bin ] && break; sleep 0.05; done
  t0=$SECONDS
  truncate -s 100000 "$victim"
  wait $pid
  local rc=$?
  if [ ! -s ck.bin ]; then
    fail "$name: no epoch ran before the cut"
  elif [ "$rc" = 3 ] && [ $((SECONDS - t0)) -le 10 ] &&
    [ "$(grep -c '^neuron: error:' cut.err)" = 1 ] && grep -Eq "$want" cut.err &&
    ! grep -q diverged cut.err && [ ! -e out.json ] && [ ! -e rep.json ] && [ ! -e hist.csv ]; then
    pass
  else
    fail "$name: exit $rc after $((SECONDS - t0)) s, outputs: $(ls out.json rep.json hist.csv 2>&1 | tr '\n' ' '): $(head -c 400 cut.err)"
  fi
}
cp cut.npy c1.npy
cut_midway "one file cut" c1.npy \
  "^neuron: error: c1.npy: cannot read rows [0-9]+ to [0-9]+ while training: the file is now 100000 bytes, its header says 6000128$" \
  "$N" train --stream --data c1.npy
if [ $have_mpi = 1 ]; then
  mkdir -p cut && python3 "$tools/split_npy.py" cut.npy cut/part 150000
  cut_midway "neuron-mpi, rank 1's shard cut" cut/part-001.npy \
    "^neuron: error: cut/part-001.npy: cannot read its rows [0-9]+ to [0-9]+ \(rows [0-9]+ to [0-9]+ of the data\) while training: the file is now 100000 bytes" \
    mpirun --oversubscribe -np 2 "$M" train --stream --data 'cut/part-*.npy'
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
