"""Eight times the headline's budget: 20,480 four-way rankings, 4 seeds, four strategies.

  python -m experiments.explore --config=long_budget --workdir=runs/long_budget
  python -m experiments.study --study=long_budget --runs=runs/studies

Every setting the headline's; only the rounds, the seeds and the strategies change.
"""

import experiments
from lmrl.configs import default

VARIANTS = ()  # One run.


def get_config(arg=None):
  experiments.check_variant('long_budget', arg, VARIANTS)
  c = default.get_config()
  c.experiment.num_seeds = 4  # 4 seeds (16 would take ~3.5 hours on 2 CPU cores).
  c.experiment.rounds = 320  # 320 rounds of 64 rankings: 20,480 rankings.
  c.experiment.strategies = ('passive', 'uniform', 'boltzmann', 'infomax')  # Thompson left out.
  return c
