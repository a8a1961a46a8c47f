"""Infomax's draw: tau in nats (the default) or relative to each prompt's best tuple.

  python -m experiments.study --study=infomax_units --runs=runs/studies
  python -m experiments.explore --config=infomax_units:best \
      --workdir=runs/studies/infomax_units/best

Variants (`--config=infomax_units:VARIANT`), infomax only, 4 seeds, 80 rounds of 64 rankings:
  nats   tau = 0.1 nats (the default draw)
  best   tau = 0.05, 0.1, 0.2 in units of each prompt's best tuple's information, as sweep lanes
"""

import experiments
from lmrl.configs import default

VARIANTS = ('nats', 'best')


def get_config(arg=None):
  experiments.check_variant('infomax_units', arg, VARIANTS)
  c = default.get_config()
  c.experiment.num_seeds = 4  # 4 seeds.
  c.experiment.rounds = 80  # 80 rounds of 64 rankings: 5,120 rankings.
  c.experiment.strategies = ('infomax',)  # Infomax only.
  if arg == 'best':
    c.experiment.info_units = 'best'  # tau relative to each prompt's best tuple's information.
    c.sweep.info_temperature = (0.05, 0.1, 0.2)  # tau, in those units, as sweep lanes.
  return c
