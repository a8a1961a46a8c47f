"""Optimisation per choice: 8 (the default) vs 32 joint steps a round, over 5,120 rankings.

  python -m experiments.study --study=steps --runs=runs/studies
  python -m experiments.explore --config=steps:steps32 --workdir=runs/studies/steps/steps32

Variants (`--config=steps:VARIANT`), each 4 seeds and 80 rounds of 64 rankings:
  steps8           uniform, boltzmann at 8 steps a round (the default)
  steps32          uniform, boltzmann at 32 steps a round
  steps32_more     boltzmann, infomax at 32 steps (infomax at 8: infomax_units:nats)
  steps32_rest     passive, thompson at 32 steps (with the two above: all five strategies)
  steps32_control  infomax at 32 steps drawing a uniformly random tuple of its pool
                   (info_temperature 1000 nats: infomax_control's control, at 32 steps)
"""

import experiments
from lmrl.configs import default

VARIANTS = ('steps8', 'steps32', 'steps32_more', 'steps32_rest', 'steps32_control')

_STRATEGIES = {
    'steps8': ('uniform', 'boltzmann'),
    'steps32': ('uniform', 'boltzmann'),
    'steps32_more': ('boltzmann', 'infomax'),
    'steps32_rest': ('passive', 'thompson'),
    'steps32_control': ('infomax',),
}


def get_config(arg=None):
  experiments.check_variant('steps', arg, VARIANTS)
  c = default.get_config()
  c.experiment.num_seeds = 4  # 4 seeds.
  c.experiment.rounds = 80  # 80 rounds of 64 rankings: 5,120 rankings.
  c.experiment.strategies = _STRATEGIES[arg]  # The variant's strategies (docstring).
  c.finetune.steps_per_round = 8 if arg == 'steps8' else 32  # S: joint steps a round.
  if arg == 'steps32_control':
    c.experiment.info_temperature = 1000.0  # Infomax draws a uniformly random tuple of its pool.
  return c
