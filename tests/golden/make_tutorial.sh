#!/usr/bin/env bash
# Regenerate the golden outputs of `neuron tutorial` from the project's Python
# transcription of the tutorial (doc/reference.md).
# Usage: tests/golden/make_tutorial.sh [path/to/tutorial.py]   (bench/peers/tutorial.py)
# Each line of cases.txt is: NAME ARGS...; NAME.txt is the script's stdout for ARGS.
# Every file is written to a temporary name first and renamed once the whole
# set is made, so a missing script, a missing python3 or a failing case
# leaves the committed files as they were.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script=${1:-$here/../../bench/peers/tutorial.py}
[ -f "$script" ] || { echo "make_tutorial.sh: $script: no such file" >&2; exit 1; }
command -v python3 >/dev/null || { echo "make_tutorial.sh: python3 is not installed" >&2; exit 1; }
tmp=$(mktemp -d "$here/tutorial/.make.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
while read -r name args; do
  case "$name" in ''|\#*) continue ;; esac
  # shellcheck disable=SC2086
  python3 "$script" $args > "$tmp/$name.txt" ||
    { echo "make_tutorial.sh: case $name ($args) failed" >&2; exit 1; }
done < "$here/tutorial/cases.txt"
# The script raises OverflowError in this one (exit 1) after printing some
# lines; its stdout up to there is the golden file, so the exit is checked
# for that error and nothing else.
set +e
python3 "$script" --seed 4 --lr 0.01 --epochs 400 --every 1 > "$tmp/diverge_inf.txt" 2> "$tmp/err"
rc=$?
set -e
if [ $rc -ne 1 ] || ! grep -q OverflowError "$tmp/err"; then
  echo "make_tutorial.sh: diverge_inf: expected OverflowError, got exit $rc" >&2
  exit 1
fi
rm -f "$tmp/err"
for f in "$tmp"/*.txt; do mv -f "$f" "$here/tutorial/"; done
