#!/usr/bin/env bash
# Checkpoints: a run killed with SIGKILL mid-way and resumed from its last
# checkpoint ends with the bits (model and per-epoch losses) of a run never
# stopped, in neuron and in neuron-mpi (killed with 2 ranks, resumed with 3);
# a checkpoint from other options, other data, or damaged is refused with one
# error line naming it. Run by scripts/test: tests/checkpoint.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/mpi/common.sh" checkpoint "${1:-build}"

"$N" gen --rows 400000 --features 4 --out d.npy >/dev/null
# 2000 epochs (about 1 s here, 0.1 s at 200): the run must still be going
# when kill_midway fires, 0.1-0.15 s after its first checkpoint, however
# fast the kernels get (at 200 epochs a faster build finished first)
opts=(--data d.npy --algo minibatch --batch 40000 --epochs 2000 --val-split 0.1 --quiet)
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
  refused "other lr" "ck.bin: the checkpoint was made with another value of the training option 'lr'" \
    "${opts[@]}" --lr 0.05 --resume ck.bin
  "$N" gen --rows 400000 --features 4 --seed 5 --out other.npy >/dev/null
  refused "other data" "ck.bin: the checkpoint was made on other data" "${opts[@]}" \
    --data other.npy --resume ck.bin
  head -c 200 ck.bin >cut.bin
  refused "truncated" "cut.bin: the checkpoint is damaged" "${opts[@]}" --resume cut.bin
fi

# The peers' options (issue 18) keep state between epochs: a run with each
# family stopped at a checkpoint epoch (--epochs STOP=6, every EVERY=3) and
# resumed to 14 epochs ends with the model, the history (but seconds) and
# the report (but timings) of the 14-epoch run never stopped; batch,
# minibatch and sgd (whose rate is small enough that it is still moving).
"$N" gen --rows 20000 --features 4 --out s.npy >/dev/null
no_timing() { grep -v '"seconds"\|"samples_per_second"\|"epoch_seconds_median"' "$1"; }
stopped_same() { # name, then train's options
  local name=$1; shift
  rm -f st.bin
  "$N" train --data s.npy --val-split 0.1 --quiet "$@" --epochs 14 --model a.json \
    --history a.csv >a.rep 2>/dev/null &&
  "$N" train --data s.npy --val-split 0.1 --quiet "$@" --epochs "${STOP:-6}" --checkpoint st.bin \
    --checkpoint-every "${EVERY:-3}" >/dev/null 2>&1 &&
  "$N" train --data s.npy --val-split 0.1 --quiet "$@" --epochs 14 --resume st.bin \
    --model b.json --history b.csv >b.rep 2>b.err ||
    { fail "$name: exit $?: $(head -c 300 b.err)"; return; }
  if ! cmp -s a.json b.json; then
    fail "$name: the resumed model differs from the run never stopped"
  elif ! cmp -s <(cut -d, -f1-3 a.csv) <(cut -d, -f1-3 b.csv); then
    fail "$name: the resumed history differs from the run never stopped"
  elif ! cmp -s <(no_timing a.rep) <(no_timing b.rep); then
    fail "$name: the resumed report differs: $(diff <(no_timing a.rep) <(no_timing b.rep) | head -4)"
  else
    pass
  fi
}
families=("--l2 0.05" "--l1 0.01 --l2 0.01" "--loss huber --delta 0.5"
  "--lr-schedule invscaling --power-t 0.5" "--lr-schedule step --lr-step 4 --lr-gamma 0.5"
  "--momentum 0.9" "--momentum 0.9 --nesterov" "--average"
  "--momentum 0.5 --l2 0.01 --tol 1e-4 --patience 2 --restore-best")
for algo in "batch" "minibatch --batch 3000" "sgd --lr 0.000002"; do
  for fam in "${families[@]}"; do
    # shellcheck disable=SC2086
    stopped_same "--algo $algo $fam" --algo $algo $fam
  done
done
# backoff: the runs diverge and back off before the checkpoint (their log
# comes from it) and after (restarting from the start of the checkpoint's
# epoch, a snapshot the checkpoint holds)
stopped_same "batch, backoffs at epochs 5, 5, 7" --algo batch --lr 6 --on-divergence backoff
STOP=2 EVERY=1 stopped_same "minibatch, backoffs at epochs 2, 2 | 3" --algo minibatch \
  --batch 3000 --lr 6 --on-divergence backoff
if [ "$(grep -c 'backing off' b.err)" = 1 ] && [ "$(grep -c '"restart"' b.rep)" = 3 ]; then
  pass
else
  fail "minibatch resumed between backoffs: $(cat b.err)"
fi
stopped_same "sgd, a backoff at epoch 1" --algo sgd --lr 0.6 --on-divergence backoff
stopped_same "batch --exact --l2, backoffs" --algo batch --exact --l2 0.05 --lr 6 \
  --on-divergence backoff

# each option that changes the bits is recorded: a resume with another value
# is refused naming it (exit 3, one line)
A="--algo minibatch --batch 3000 --l2 0.01 --l1 0.001 --loss huber --delta 0.5 --lr-schedule step
   --lr-step 2 --lr-gamma 0.5 --momentum 0.5 --nesterov --on-divergence backoff --epochs 3"
B="--algo sgd --lr-schedule invscaling --power-t 0.5 --average --epochs 3"
C="--algo batch --lr-schedule cosine --epochs 3"
for k in A B C; do
  # shellcheck disable=SC2086
  "$N" train --data s.npy --quiet ${!k} --checkpoint $k.bin --checkpoint-every 3 >/dev/null
done
what=(l2 "$A" "${A/--l2 0.01/--l2 0.02}"
  l1 "$A" "${A/--l1 0.001/--l1 0.002}"
  loss "$A" "${A/--loss huber --delta 0.5/}"
  delta "$A" "${A/--delta 0.5/--delta 0.6}"
  lr_schedule "$A" "${A/--lr-schedule step*--lr-gamma 0.5/--lr-schedule cosine}"
  lr_step "$A" "${A/--lr-step 2/--lr-step 3}"
  lr_gamma "$A" "${A/--lr-gamma 0.5/--lr-gamma 0.25}"
  momentum "$A" "${A/--momentum 0.5/--momentum 0.6}"
  nesterov "$A" "${A/--nesterov/}"
  average "$A" "$A --average"
  on_divergence "$A" "${A/--on-divergence backoff/}"
  power_t "$B" "${B/--power-t 0.5/--power-t 0.6}"
  epochs "$C" "${C/--epochs 3/--epochs 4}")
for ((i = 0; i < ${#what[@]}; i += 3)); do
  opt=${what[i]} base=${what[i + 1]} other=${what[i + 2]}
  k=$([ "$base" = "$A" ] && echo A || { [ "$base" = "$B" ] && echo B || echo C; })
  # shellcheck disable=SC2086
  refused "other $opt" "$k.bin: the checkpoint was made with another value of the training option '$opt'" \
    --data s.npy $other --resume $k.bin
done
# the same options resume (the refusals above are not of everything)
# shellcheck disable=SC2086
"$N" train --data s.npy --quiet $A --resume A.bin >/dev/null 2>err.txt && pass ||
  fail "resume of A.bin with its own options: $(cat err.txt)"
# a checkpoint of version 1 (without these options' state) is refused
cp A.bin old.bin
printf '\001' | dd of=old.bin bs=1 seek=7 conv=notrunc 2>/dev/null
# shellcheck disable=SC2086
refused "version 1" "old.bin: checkpoint version 1, this neuron reads version 2" --data s.npy $A \
  --resume old.bin
# newton's line search is not in checkpoints: a usage error, nothing written
"$N" train --quiet --data s.npy --algo newton --checkpoint nw.bin >/dev/null 2>err.txt
rc=$?
if [ "$rc" = 2 ] && [ "$(grep -c '^neuron: error:' err.txt)" = 1 ] &&
   grep -q "newton's line search" err.txt && [ ! -e nw.bin ]; then
  pass
else
  fail "newton with --checkpoint: exit $rc: $(cat err.txt)"
fi

# SIGKILL with the options whose state is largest (momentum, the average)
# and cosine, whose rate depends on --epochs (recorded, so no stop early)
popts=("${opts[@]}" --lr-schedule cosine --momentum 0.9 --nesterov --l2 0.001 --average)
"$N" train "${popts[@]}" --model ref.json --history ref.csv >/dev/null
cut -d, -f1-3 ref.csv >ref.loss
rm -f ck.bin killed.json
kill_midway "$N" train "${popts[@]}" --checkpoint ck.bin --checkpoint-every 3 --model killed.json &&
  resumed_same "neuron, cosine, nesterov, l2, average" "$N" train "${popts[@]}"

if [ $have_mpi = 1 ]; then
  # timeout -> mpirun -> the ranks: kill one rank
  victim() {
    local run
    run=$(ps -o pid= --ppid "$1" | head -1 | tr -d ' ')
    [ -n "$run" ] && ps -o pid=,args= --ppid "$run" | awk -v m="$M" '$2 == m {print $1; exit}'
  }
  # batch: one gather per epoch, so that oversubscribed ranks on a loaded
  # machine still finish in time
  mopts=(--data d.npy --algo batch --epochs 1500 --val-split 0.1 --quiet --l2 0.01 --momentum 0.5)
  "$N" train "${mopts[@]}" --model ref.json --history ref.csv >/dev/null
  cut -d, -f1-3 ref.csv >ref.loss
  rm -f ck.bin killed.json
  kill_midway timeout 120 mpirun --oversubscribe -np 2 "$M" train "${mopts[@]}" --checkpoint ck.bin \
    --checkpoint-every 3 --model killed.json &&
    resumed_same "neuron-mpi --l2 --momentum, killed with 2 ranks, resumed with 3" \
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

# Resuming a finished run: --epochs equal to the checkpoint's finishes at
# once with the run's model and report (epochs_run = epochs) and a note;
# fewer epochs than the checkpoint holds cannot be honoured: a usage error
# naming both numbers, nothing written.
rm -f f6.bin
"$N" train --data s.npy --quiet --algo batch --epochs 6 --checkpoint f6.bin --checkpoint-every 3 \
  --model f6.json >f6.rep 2>/dev/null
"$N" train --data s.npy --quiet --algo batch --epochs 6 --resume f6.bin --model g6.json \
  >g6.rep 2>g6.err
rc=$?
if [ "$rc" = 0 ] && cmp -s f6.json g6.json && grep -q '"epochs_run":[[:space:]]*6,' g6.rep &&
  grep -q '"stop_reason":[[:space:]]*"epochs"' g6.rep &&
  [ "$(cat g6.err)" = "neuron: note: f6.bin: the checkpoint has all 6 epochs done: nothing left to train" ]; then
  pass
else
  fail "resume of a finished run: exit $rc, $(grep epochs_run g6.rep), stderr '$(cat g6.err)'"
fi
rm -f g4.json g4.rep
"$N" train --data s.npy --quiet --algo batch --epochs 4 --resume f6.bin --model g4.json \
  --report g4.rep >/dev/null 2>g4.err
rc=$?
if [ "$rc" = 2 ] && [ "$(grep -c '^neuron: error:' g4.err)" = 1 ] &&
  grep -q "f6.bin: the checkpoint has 6 epochs done, more than the 4 asked for" g4.err &&
  [ ! -e g4.json ] && [ ! -e g4.rep ]; then
  pass
else
  fail "resume with fewer epochs than done: exit $rc: $(cat g4.err)"
fi

finish
