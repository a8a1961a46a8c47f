#!/bin/bash
# The README's short studies: batch-aware infomax and the epinet on the default world, 4 seeds.
# Usage: bash scripts/short_studies.sh [OUT_DIR]   (about 12 minutes on 2 CPU cores; run it
# from the repository root with lmrl installed). Each run writes OUT_DIR/<name>/ and a log.
set -euo pipefail
OUT="${1:-runs/short}"
mkdir -p "$OUT"
run() {  # run NAME OVERRIDES...
  local name="$1"; shift
  python -m lmrl.bin.explore --config=default --workdir="$OUT/$name" \
    --config.experiment.num_seeds=4 "$@" > "$OUT/$name.log" 2>&1
}
for tau in 0.0 0.1; do  # 0.1 is the default since commit 2b1cea1
  run "infomax_tau$tau" "--config.experiment.strategies=('infomax',)" \
    --config.experiment.info_temperature=$tau
done
run epinet --config.agent.epistemic=epinet \
  "--config.experiment.strategies=('passive','uniform','infomax')"
run ensemble4 "--config.experiment.strategies=('passive','uniform')"
grep -h "final KL" "$OUT"/*.log
