#!/bin/bash
# The README's short studies on the default world, 4 seeds each.
# Usage: bash scripts/short_studies.sh [OUT_DIR] [STUDY ...]   (run it from the repository root
# with lmrl installed; STUDY is one of: infomax_tau epinet prior_scale; default: all, about
# 25 minutes on 2 CPU cores). Each run writes OUT_DIR/<name>/ and OUT_DIR/<name>.log.
set -euo pipefail
OUT="${1:-runs/short}"
shift || true
STUDIES="${*:-infomax_tau epinet prior_scale}"
mkdir -p "$OUT"
run() {  # run NAME OVERRIDES...
  local name="$1"; shift
  python -m lmrl.bin.explore --config=default --workdir="$OUT/$name" \
    --config.experiment.num_seeds=4 "$@" > "$OUT/$name.log" 2>&1
}
for study in $STUDIES; do
  case "$study" in
    infomax_tau)  # Batch-aware infomax: 0.1 is the default since commit 2b1cea1.
      for tau in 0.0 0.1; do
        run "infomax_tau$tau" "--config.experiment.strategies=('infomax',)" \
          --config.experiment.info_temperature=$tau
      done;;
    epinet)
      run epinet --config.agent.epistemic=epinet \
        "--config.experiment.strategies=('passive','uniform','infomax')"
      run ensemble4 "--config.experiment.strategies=('passive','uniform')";;
    prior_scale)  # The randomized priors' scale beta, as lanes of one compiled sweep.
      run prior_scale "--config.sweep.prior_scale=(1.0,3.0,10.0)" \
        "--config.experiment.strategies=('uniform','thompson','infomax')";;
    *) echo "unknown study: $study (infomax_tau, epinet or prior_scale)" >&2; exit 2;;
  esac
done
grep -h "final KL" "$OUT"/*.log
