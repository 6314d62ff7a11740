#!/usr/bin/env bash
# Regenerate the golden outputs of `neuron tutorial` from the Python oracle.
# Made with: tests/golden/make_tutorial.sh [path/to/tutorial.py]
# Each line of cases.txt is: NAME ARGS...; NAME.txt is the oracle's stdout for ARGS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
oracle=${1:-$here/../../../shared/oracle/tutorial.py}
while read -r name args; do
  case "$name" in ''|\#*) continue ;; esac
  # shellcheck disable=SC2086
  python3 "$oracle" $args > "$here/tutorial/$name.txt"
done < "$here/tutorial/cases.txt"
# The oracle raises OverflowError in this one (exit 1) after printing 0+ lines;
# its stdout up to there is the golden file.
python3 "$oracle" --seed 4 --lr 0.01 --epochs 400 --every 1 > "$here/tutorial/diverge_inf.txt" || true
