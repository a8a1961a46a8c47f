#!/usr/bin/env bash
# The headline experiment on other worlds: the default agent and settings, held fixed (chosen on
# the default world); only the world or the query format changes.
#   bash scripts/other_worlds.sh [RUNS_DIR] [SEEDS]    (default runs/worlds, 4 seeds; on 2 CPU
#   cores about 6-10 minutes a world at 4 seeds). Each run writes RUNS_DIR/<name>/ and a log.
set -euo pipefail
runs=${1:-runs/worlds}
seeds=${2:-4}
mkdir -p "$runs"
strategies="--config.experiment.strategies=('passive','uniform','infomax')"
run() {
  name=$1; shift
  python -m lmrl.bin.explore --config=default --workdir="$runs/$name" "$strategies" \
    --config.experiment.num_seeds="$seeds" "$@" > "$runs/$name.log" 2>&1
}
run pairs --config.experiment.responses_per_prompt=2      # K = 2: one choice between two
run non_iia --config.world.iia=False                       # each chooser uses their own group's taste
run groups3 --config.world.group_weights='(0.5,0.3,0.2)' --config.world.corpus_group_mix='(1.0,0.0,0.0)'
run v8_ly4 --config.world.vocab_size=8 --config.world.response_length=4  # 4096 responses a prompt
grep -h "final KL" "$runs"/*.log
