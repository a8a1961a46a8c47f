"""Does infomax's information score beat a uniformly random tuple of its own pool? (5,120 rankings)

  python -m experiments.explore --config=infomax_control --workdir=runs/infomax_control
  python -m experiments.study --study=infomax_control --runs=runs/studies

Four lanes of one compiled sweep: info_temperature 0.1 nats (the default draw) or 1000 nats (a
uniformly random tuple of the pool, i.e. K samples of the LM at the pool's temperature), pools at
temperature 2 and 3. The same control at 32 joint steps a round is `steps:steps32_control`.
"""

import experiments
from lmrl.configs import default

VARIANTS = ()  # One run.


def get_config(arg=None):
  experiments.check_variant('infomax_control', arg, VARIANTS)
  c = default.get_config()
  c.experiment.num_seeds = 4  # 4 seeds.
  c.experiment.rounds = 80  # 80 rounds of 64 rankings: 5,120 rankings.
  c.experiment.strategies = ('infomax',)  # Infomax only.
  c.sweep.info_temperature = (0.1, 1000.0)  # The draw by information vs a random tuple.
  c.sweep.pool_temperature = (2.0, 3.0)  # The pool's temperature (3 is the default).
  return c
