#!/usr/bin/env bash
# neuron-mpi against neuron: the same weight bits for 1, 2 and 3 ranks,
# threads 1 and 2, one file and shards, every algorithm but sgd, the
# classifiers, --standardize, streamed shares; bad labels and separable
# classes end every rank with neuron train's line; faults (a bad shard, a missing one,
# a rank killed with SIGKILL) end every rank within 10 s with one
# `neuron: error:` line and a non-zero code. Run by scripts/test:
#   tests/mpi/run.sh BUILD_DIR
# Skips (saying so) when mpirun or BUILD_DIR/neuron-mpi is missing.
set -uo pipefail
. "$(dirname "$0")/common.sh" mpi "${1:-build}"
if [ $have_mpi = 0 ]; then
  echo "mpi tests: SKIPPED (mpirun or $M missing; scripts/setup installs Open MPI)"
  exit 0
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { local np=$1; shift; timeout 60 mpirun --oversubscribe -np "$np" "$M" train "$@"; }

# 30000 rows: 8 blocks, so 3 ranks get unequal shares and the last block is short
"$N" gen --rows 30000 --features 3 --dtype f64 --out d64.npy --seed 7 >/dev/null
"$N" gen --rows 30000 --features 2 --dtype f32 --out d32.npy --seed 8 >/dev/null
python3 "$tools/split_npy.py" d64.npy part 5000,12345

# The model file prints doubles round-trip exact: equal text is equal bits.
# The history's loss column (%.17g) too; its seconds column is dropped.
same_bits() { # name, then the options of train
  local name=$1; shift
  # ols has no epochs, hence no history (asking for one is a usage error)
  local ref_hist=(--history ref.csv) mpi_hist=(--history mpi.csv)
  if [[ " $* " == *" ols "* ]]; then ref_hist=() mpi_hist=(); fi
  rm -f ref.csv mpi.csv
  "$N" train --quiet "$@" --model ref.json "${ref_hist[@]}" >/dev/null 2>ref.err ||
    { fail "$name: neuron train failed: $(cat ref.err)"; return; }
  touch ref.csv
  cut -d, -f1,2 ref.csv >ref.loss
  # ranks x threads: 1 x 2, 2 x 1, 3 x 2 (every pairing is the same code)
  for run in 1:2 2:1 3:2; do
    local np=${run%:*} th=${run#*:}
    {
      rm -f mpi.json mpi.csv
      mpi "$np" --quiet --threads "$th" "$@" --model mpi.json "${mpi_hist[@]}" >/dev/null 2>mpi.err ||
        { fail "$name: -np $np --threads $th exited $?: $(head -c 300 mpi.err)"; continue; }
      touch mpi.csv
      if cmp -s ref.json mpi.json && cmp -s ref.loss <(cut -d, -f1,2 mpi.csv); then
        pass
      else
        fail "$name: -np $np --threads $th: weights or losses differ from neuron train"
        diff ref.json mpi.json | head -6
      fi
    }
  done
}

same_bits "batch f64" --data d64.npy --algo batch --epochs 15
same_bits "batch f32" --data d32.npy --algo batch --epochs 15 --lr 0.3
same_bits "batch, held-out rows off the block grid" --data d64.npy --algo batch --epochs 8 \
  --val-split 0.123
same_bits "minibatch B=1000 shuffled" --data d64.npy --algo minibatch --batch 1000 --epochs 3
# a batch of <= 4096 rows is summed in 512-row blocks: by the threads of
# neuron train, by one thread of the rank holding its first row here
same_bits "minibatch B=4096, 3000 held-out rows" --data d32.npy --algo minibatch --batch 4096 \
  --val-split 0.1 --epochs 2
same_bits "minibatch B=10000 in order" --data d32.npy --algo minibatch --batch 10000 \
  --shuffle none --epochs 4
same_bits "ols" --data d64.npy --algo ols
same_bits "batch --exact" --data d64.npy --algo batch --exact --epochs 30 --val-split 0.2
same_bits "early stopping" --data d64.npy --algo batch --epochs 500 --tol 1e-3 --patience 2

# Huber's loss (a kernel with a parameter) and the step's options of the peers
same_bits "huber f64, held-out rows" --data d64.npy --loss huber --delta 0.3 --epochs 8 \
  --val-split 0.123
same_bits "huber f32 minibatch" --data d32.npy --loss huber --algo minibatch --batch 5000 \
  --epochs 3 --lr 0.3
same_bits "momentum, step schedule, l1, l2, average" --data d64.npy --momentum 0.9 \
  --lr-schedule step --lr-step 3 --l1 0.001 --l2 0.01 --average --epochs 8
same_bits "backoff after divergence" --data d32.npy --lr 3 --on-divergence backoff --epochs 12

# the classifiers: labels checked by every rank on its rows, then agreed
"$N" gen --rows 30000 --features 3 --task classify --dtype f64 --out c64.npy --seed 3 >/dev/null
"$N" gen --rows 30000 --features 2 --task classify --flip 0.1 --dist normal --out c32.npy \
  --seed 4 >/dev/null
python3 "$tools/edit_npy.py" c64.npy pm64.npy pm1-from=0 # labels -1/+1
same_bits "sigmoid batch f64, held-out rows" --data c64.npy --activation sigmoid --epochs 10 \
  --val-split 0.123
same_bits "sigmoid minibatch f32 shuffled" --data c32.npy --activation sigmoid --algo minibatch \
  --batch 3000 --epochs 3
same_bits "step batch, labels -1/+1" --data pm64.npy --activation step --epochs 10
same_bits "step minibatch f32 in order" --data c32.npy --activation step --algo minibatch \
  --batch 10000 --shuffle none --epochs 3
# newton: every block's gradient and Hessian gathered and added in block order
same_bits "newton logistic f64" --data c64.npy --activation sigmoid --algo newton --epochs 30
same_bits "newton logistic f32, l2, held-out rows" --data c32.npy --activation sigmoid \
  --algo newton --epochs 30 --l2 0.05 --val-split 0.2
same_bits "newton squared error" --data d64.npy --algo newton --epochs 5
# --standardize: the means and scales from every block's sums, in block order
same_bits "standardize batch, held-out rows" --data d64.npy --standardize --epochs 10 \
  --val-split 0.2
same_bits "standardize minibatch f32" --data d32.npy --standardize --algo minibatch --batch 7000 \
  --epochs 3
same_bits "standardize ols, l2" --data d64.npy --standardize --algo ols --l2 0.1
same_bits "standardize newton, labels -1/+1" --data pm64.npy --standardize --activation sigmoid \
  --algo newton --epochs 30
# a checkpoint of a standardized classifier made by 2 ranks, resumed by 3,
# ends with the bits of one process never stopped
ck=(--data c64.npy --activation sigmoid --standardize --algo minibatch --batch 5000)
"$N" train --quiet "${ck[@]}" --epochs 6 --model ref.json --history ref.csv >/dev/null
rm -f ck.bin
if mpi 2 --quiet "${ck[@]}" --epochs 4 --checkpoint ck.bin --checkpoint-every 2 >/dev/null &&
  mpi 3 --quiet "${ck[@]}" --epochs 6 --resume ck.bin --model res.json --history res.csv \
    >/dev/null && cmp -s ref.json res.json &&
  cmp -s <(cut -d, -f1,2 ref.csv) <(cut -d, -f1,2 res.csv); then
  pass
else
  fail "standardized sigmoid checkpointed on 2 ranks, resumed on 3: not neuron train's bits"
fi
# streamed shares (neuron train --stream against neuron-mpi --stream), and
# streamed against mapped
python3 "$tools/split_npy.py" c64.npy cpart 5000,12345
same_bits "streamed shards: standardized newton" --stream --data 'cpart-*.npy' \
  --standardize --activation sigmoid --algo newton --epochs 30
same_bits "streamed: huber" --stream --data d64.npy --loss huber --epochs 5
"$N" train --quiet --data c64.npy --standardize --activation sigmoid --algo newton --epochs 30 \
  --model map.json >/dev/null
"$N" train --quiet --stream --data c64.npy --standardize --activation sigmoid --algo newton \
  --epochs 30 --model st.json >/dev/null
cmp -s map.json st.json && pass || fail "newton --stream differs from the mapped run"

# shards in name order are the rows of the file they were cut from
"$N" train --quiet --data d64.npy --algo batch --epochs 10 --model ref.json >/dev/null
for np in 1 2 3; do
  mpi "$np" --quiet --data 'part-*.npy' --algo batch --epochs 10 --model sh.json >/dev/null 2>sh.err &&
    cmp -s ref.json sh.json && pass || fail "shards -np $np: $(head -c 300 sh.err)"
done

# only rank 0 speaks: one report on stdout
out=$(mpi 3 --quiet --data d64.npy --algo batch --epochs 2 | grep -c '"stop_reason"')
[ "$out" = 1 ] && pass || fail "3 ranks printed $out reports (expected 1)"

# An error: the exit code, exactly one `neuron: error:` line containing $3,
# within 10 s (timeout says 124 otherwise)
one_error() { # name, expected code, text, then np and train's options
  local name=$1 code=$2 text=$3 np=$4; shift 4
  local t0=$SECONDS
  timeout 20 mpirun --oversubscribe -np "$np" "$M" train --quiet "$@" >/dev/null 2>err.txt
  local rc=$? lines
  lines=$(grep -c '^neuron: error:' err.txt)
  if [ "$rc" != "$code" ] || [ "$lines" != 1 ] || ! grep -qF -- "$text" err.txt ||
     [ $((SECONDS - t0)) -gt 10 ]; then
    fail "$name: exit $rc (expected $code), $lines error lines, $((SECONDS - t0)) s:"
    head -5 err.txt
  else
    pass
  fi
}

# The line of neuron train on the same rows, then one_error with it
same_error() { # name, np, then train's options
  local name=$1 np=$2; shift 2
  "$N" train --quiet "$@" >/dev/null 2>ref.err
  local code=$?
  one_error "$name" "$code" "$(grep '^neuron: error:' ref.err)" "$np" "$@"
}

one_error "sgd refused" 2 "sgd is sequential" 2 --data d64.npy --algo sgd
one_error "shuffle samples refused" 2 "--shuffle samples gathers rows" 2 --data d64.npy \
  --algo minibatch --shuffle samples
# a bad label in rank 1's share (rows 8193 to 20480 of 3 ranks)
python3 "$tools/edit_npy.py" c64.npy badlab.npy 20000,3=0.5
one_error "a bad label on rank 1" 3 "badlab.npy: row 20001: target 0.5 is not a class label" 3 \
  --data badlab.npy --activation sigmoid
same_error "a bad label, as neuron train says it" 3 --data badlab.npy --activation step
# 0/1 on rank 0's rows, -1/+1 from row 16385 on (ranks 1 and 2 of 3)
python3 "$tools/edit_npy.py" c64.npy mixed.npy pm1-from=16384
same_error "label encodings mixed across ranks" 3 --data mixed.npy --activation sigmoid
same_error "label encodings mixed across ranks, 2 ranks" 2 --data mixed.npy --activation sigmoid \
  --algo newton
# in shards, the row is named over all of them, then in its shard
mkdir blab && python3 "$tools/split_npy.py" badlab.npy blab/part 5000,12345
one_error "a bad label in a shard" 3 \
  "blab/part-*.npy: row 20001 (blab/part-002.npy, its row 2656): target 0.5 is not a class" 2 \
  --data 'blab/part-*.npy' --activation sigmoid
# separable classes: newton stops on every rank with neuron train's message
"$N" gen --rows 30000 --features 2 --task classify --separable 0.05 --out sep.npy >/dev/null
same_error "newton on separable classes" 3 --data sep.npy --activation sigmoid --algo newton
one_error "csv refused" 3 "come from .npy files" 2 --data x.csv
one_error "missing file" 3 "nothing.npy: cannot open" 3 --data nothing.npy
mkdir miss && cp part-000.npy part-002.npy miss/ && ln -s /nonexistent miss/part-001.npy
one_error "missing shard" 3 "part-001.npy: cannot open" 3 --data 'miss/part-*.npy'
# a NaN in the last shard, held by rank 2 of 3 only: the others must not hang
mkdir nan && cp part-000.npy part-001.npy nan/ &&
  python3 - part-002.npy nan/part-002.npy <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
# row 10000 of the shard, column 2 (f64, 4 columns): a quiet NaN
at = len(b) - (12655 - 9999) * 32 + 8
b[at:at + 8] = bytes.fromhex("000000000000f87f")
open(sys.argv[2], "wb").write(b)
PY
one_error "a NaN in one rank's shard" 3 "part-002.npy: row 10000, column 2: value is NaN" 3 \
  --data 'nan/part-*.npy'
cp d64.npy mixed-0.npy && cp d32.npy mixed-1.npy
one_error "shards that disagree" 3 "shards must agree" 2 --data 'mixed-*.npy'

# kill -9 of one rank mid-run: mpirun ends the others, non-zero, within 10 s
"$N" gen --rows 400000 --features 4 --out big.npy >/dev/null
timeout 60 mpirun --oversubscribe -np 2 "$M" train --quiet --data big.npy --algo batch \
  --epochs 100000000 >/dev/null 2>kill.err &
mpid=$!
victim=
for _ in $(seq 100); do
  sleep 0.1
  # timeout -> mpirun -> the ranks
  run=$(ps -o pid= --ppid "$mpid" 2>/dev/null | head -1 | tr -d ' ')
  [ -n "$run" ] &&
    victim=$(ps -o pid=,args= --ppid "$run" | awk -v m="$M" '$2 == m {print $1; exit}')
  [ -n "$victim" ] && break
done
if [ -z "$victim" ]; then
  fail "kill -9: found no rank of mpirun $mpid"
  kill "$mpid" 2>/dev/null
else
  sleep 1
  t0=$SECONDS
  kill -9 "$victim"
  wait "$mpid"
  rc=$?
  if [ "$rc" = 0 ] || [ "$rc" = 124 ] || [ $((SECONDS - t0)) -gt 10 ]; then
    fail "kill -9 of rank $victim: mpirun exited $rc after $((SECONDS - t0)) s"
  else
    pass
  fi
fi

finish
