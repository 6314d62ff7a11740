#!/usr/bin/env bash
# Checkpoints: a run killed with SIGKILL mid-way and resumed from its last
# checkpoint ends with the bits (model and per-epoch losses) of a run never
# stopped, in neuron and in neuron-mpi (killed with 2 ranks, resumed with 3);
# a checkpoint from other options, other data, or damaged is refused with one
# error line naming it. Run by scripts/test: tests/checkpoint.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/mpi/common.sh" checkpoint "${1:-build}"

"$N" gen --rows 400000 --features 4 --out d.npy >/dev/null
opts=(--data d.npy --algo minibatch --batch 40000 --epochs 200 --val-split 0.1 --quiet)
"$N" train "${opts[@]}" --model ref.json --history ref.csv >/dev/null
cut -d, -f1-3 ref.csv >ref.loss

# Start "$@" in the background, wait for its first checkpoint, SIGKILL the
# process whose pid the caller names through the function `victim`, and
# check the run did not finish.
kill_midway() {
  "$@" >/dev/null 2>&1 &
  local job=$!
  for _ in $(seq 300); do [ -s ck.bin ] && break; sleep 0.05; done
  sleep 0.1
  local v
  v=$(victim "$job")
  [ -n "$v" ] && kill -9 "$v"
  wait "$job" 2>/dev/null
  if [ -e killed.json ] || [ ! -s ck.bin ]; then
    fail "$1: the run was not killed mid-way (finished or no checkpoint)"
    return 1
  fi
}

resumed_same() { # name, then the resuming command
  local name=$1; shift
  "$@" --resume ck.bin --checkpoint ck.bin --model res.json --history res.csv >/dev/null 2>res.err ||
    { fail "$name: resume exited $?: $(head -c 300 res.err)"; return; }
  if cmp -s ref.json res.json && cmp -s ref.loss <(cut -d, -f1-3 res.csv); then
    pass
  else
    fail "$name: the resumed run's bits differ from the run never stopped"
  fi
}

victim() { echo "$1"; }
rm -f ck.bin killed.json
kill_midway "$N" train "${opts[@]}" --checkpoint ck.bin --checkpoint-every 3 --model killed.json &&
  resumed_same "neuron" "$N" train "${opts[@]}"

# refusals: one line naming the checkpoint, exit 3 (input)
refused() { # name, text, then train's options
  local name=$1 text=$2; shift 2
  "$N" train --quiet "$@" >/dev/null 2>err.txt
  local rc=$?
  if [ "$rc" = 3 ] && [ "$(grep -c '^neuron: error:' err.txt)" = 1 ] && grep -q -- "$text" err.txt; then
    pass
  else
    fail "$name: exit $rc: $(cat err.txt)"
  fi
}
if [ -s ck.bin ]; then
  refused "other lr" "ck.bin: the checkpoint was made with another --lr" "${opts[@]}" --lr 0.05 \
    --resume ck.bin
  "$N" gen --rows 400000 --features 4 --seed 5 --out other.npy >/dev/null
  refused "other data" "ck.bin: the checkpoint was made on other data" "${opts[@]}" \
    --data other.npy --resume ck.bin
  head -c 200 ck.bin >cut.bin
  refused "truncated" "cut.bin: the checkpoint is damaged" "${opts[@]}" --resume cut.bin
fi

# the peers' options carry state a checkpoint does not hold: a usage error,
# one line, exit 2, and no checkpoint written
for peer in "--l2 0.1" "--momentum 0.9" "--average" "--on-divergence backoff"; do
  rm -f peer.bin
  # shellcheck disable=SC2086
  "$N" train --quiet "${opts[@]}" $peer --checkpoint peer.bin >/dev/null 2>err.txt
  rc=$?
  if [ "$rc" = 2 ] && [ "$(grep -c '^neuron: error:' err.txt)" = 1 ] &&
    grep -q "checkpoints do not yet hold" err.txt && [ ! -e peer.bin ]; then
    pass
  else
    fail "checkpoint with $peer: exit $rc: $(cat err.txt)"
  fi
done

if [ $have_mpi = 1 ]; then
  # timeout -> mpirun -> the ranks: kill one rank
  victim() {
    local run
    run=$(ps -o pid= --ppid "$1" | head -1 | tr -d ' ')
    [ -n "$run" ] && ps -o pid=,args= --ppid "$run" | awk -v m="$M" '$2 == m {print $1; exit}'
  }
  # batch: one gather per epoch, so that oversubscribed ranks on a loaded
  # machine still finish in time
  mopts=(--data d.npy --algo batch --epochs 1500 --val-split 0.1 --quiet)
  "$N" train "${mopts[@]}" --model ref.json --history ref.csv >/dev/null
  cut -d, -f1-3 ref.csv >ref.loss
  rm -f ck.bin killed.json
  kill_midway timeout 120 mpirun --oversubscribe -np 2 "$M" train "${mopts[@]}" --checkpoint ck.bin \
    --checkpoint-every 3 --model killed.json &&
    resumed_same "neuron-mpi, killed with 2 ranks, resumed with 3" \
      timeout 120 mpirun --oversubscribe -np 3 "$M" train "${mopts[@]}"
  # rank 0 cannot write the checkpoint: every rank stops, one error line
  t0=$SECONDS
  timeout 20 mpirun --oversubscribe -np 2 "$M" train "${mopts[@]}" --checkpoint no/such/dir/ck.bin \
    >/dev/null 2>err.txt
  rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ $((SECONDS - t0)) -le 10 ] &&
     [ "$(grep -c '^neuron: error:' err.txt)" = 1 ] && grep -q "no/such/dir/ck.bin" err.txt; then
    pass
  else
    fail "unwritable checkpoint with 2 ranks: exit $rc after $((SECONDS - t0)) s: $(head -3 err.txt)"
  fi
else
  echo "checkpoint tests: neuron-mpi part SKIPPED (mpirun or $M missing)"
fi

finish
