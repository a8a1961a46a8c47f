#!/usr/bin/env bash
# The headline experiment on other worlds (same agent and strategies; only the world changes).
#   bash scripts/other_worlds.sh [RUNS_DIR]    (default runs/worlds; each world ~5-8 min on CPU)
set -euo pipefail
runs=${1:-runs/worlds}
strategies="--config.experiment.strategies=('passive','uniform','infomax')"
run() { name=$1; shift; python -m lmrl.bin.explore --config=default --workdir="$runs/$name" "$strategies" "$@"; }
run vocab8 --config.world.vocab_size=8                    # 512 responses per prompt, 8 prompts
run length4 --config.world.vocab_size=4 --config.world.response_length=4 --config.world.prompt_length=2
run groups3 --config.world.group_weights='(0.5,0.3,0.2)' --config.world.corpus_group_mix='(1.0,0.0,0.0)'
run flat_teachers --config.world.teacher_temperature=1.0  # less peaked tastes
