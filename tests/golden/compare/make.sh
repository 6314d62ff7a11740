#!/usr/bin/env bash
# The golden results that tests/test_compare.c (and the README's CI recipe)
# compare fresh runs against. Regenerate only when a change of results is
# intended, and say why in the commit:
#   tests/golden/compare/make.sh build/neuron
set -euo pipefail
neuron=$(realpath "${1:-build/neuron}")
cd "$(dirname "$0")"
# 500 rows, 3 features, y = x.w + b + noise: small enough to commit as text
"$neuron" gen --rows 500 --features 3 --seed 11 --noise 0.2 --dtype f64 --out data.csv >/dev/null
# paths relative to this folder, so the reports name the same data file
"$neuron" train --data data.csv --algo batch --epochs 50 --lr 0.1 --quiet \
  --report batch.json --model batch_model.json --history batch.csv >/dev/null
"$neuron" train --data data.csv --algo sgd --epochs 5 --lr 0.01 --quiet \
  --report sgd.json --history sgd.csv >/dev/null
"$neuron" predict --model batch_model.json --data data.csv --out batch_pred.csv
echo "golden files written in $(pwd)"
