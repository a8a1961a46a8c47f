#!/bin/bash
# The README's short studies on the default world, 4 seeds each.
# Usage: bash scripts/short_studies.sh [OUT_DIR] [STUDY ...]   (run it from the repository root
# with lmrl installed; STUDY is one of: infomax_tau epinet prior_scale steps steps_more
# steps_rest infomax_units infomax_control deploy; default: the first three, about 25 minutes
# on 2 CPU cores; each later one 15-30). Each run writes OUT_DIR/<name>/ and OUT_DIR/<name>.log.
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
    steps)  # Optimisation per choice: 8 (default) vs 32 joint steps a round, over 5,120 rankings.
      for steps in 8 32; do
        run "steps$steps" "--config.experiment.strategies=('uniform','boltzmann')" \
          --config.experiment.rounds=80 --config.finetune.steps_per_round=$steps
      done;;
    steps_more)  # 32 steps for boltzmann and infomax (infomax's 8-step run: infomax_nats).
      run steps32_more "--config.experiment.strategies=('boltzmann','infomax')" \
        --config.experiment.rounds=80 --config.finetune.steps_per_round=32;;
    steps_rest)  # 32 steps for passive and thompson: with steps and steps_more, all five; and
      #            infomax_control's random tuple of the pool (tau = 1000 nats) at 32 steps.
      run steps32_rest "--config.experiment.strategies=('passive','thompson')" \
        --config.experiment.rounds=80 --config.finetune.steps_per_round=32
      run steps32_control "--config.experiment.strategies=('infomax',)" \
        --config.experiment.rounds=80 --config.finetune.steps_per_round=32 \
        --config.experiment.info_temperature=1000.0;;
    infomax_units)  # Infomax's draw, tau in nats (the default) or relative to the best
      #               tuple's information (0.05, 0.1, 0.2 as sweep lanes), over 5,120 rankings.
      run infomax_nats "--config.experiment.strategies=('infomax',)" \
        --config.experiment.rounds=80
      run infomax_best "--config.experiment.strategies=('infomax',)" \
        --config.experiment.rounds=80 --config.experiment.info_units=best \
        "--config.sweep.info_temperature=(0.05,0.1,0.2)";;
    infomax_control)  # Does the information score beat a random tuple of its own pool?
      #                 info_temperature 1000 nats = a uniformly random tuple of the pool (= K
      #                 samples at the pool temperature); pools at temperature 2 and 3; lanes.
      run infomax_control "--config.experiment.strategies=('infomax',)" \
        --config.experiment.rounds=80 "--config.sweep.info_temperature=(0.1,1000.0)" \
        "--config.sweep.pool_temperature=(2.0,3.0)";;
    deploy)  # Deploy the members' mean-logits LM (priors cancel) at beta 1 and 3, as lanes; and
      #        passive and boltzmann with the default (mixture) for the same 4 seeds.
      run deploy_mean_logits --config.agent.deploy=mean_logits \
        "--config.sweep.prior_scale=(1.0,3.0)"
      run deploy_mixture "--config.experiment.strategies=('passive','boltzmann')";;
    *) echo "unknown study: $study (see the usage line)" >&2; exit 2;;
  esac
done
grep -h "final KL" "$OUT"/*.log
