"""The randomized priors' scale beta = 1, 3, 10 as lanes of one compiled sweep (2,560 rankings).

  python -m experiments.explore --config=prior_scale --workdir=runs/prior_scale
  python -m experiments.study --study=prior_scale --runs=runs/studies
"""

import experiments
from lmrl.configs import default

VARIANTS = ()  # One run.


def get_config(arg=None):
  experiments.check_variant('prior_scale', arg, VARIANTS)
  c = default.get_config()
  c.experiment.num_seeds = 4  # 4 seeds.
  c.experiment.strategies = ('uniform', 'thompson', 'infomax')  # Three strategies.
  c.sweep.prior_scale = (1.0, 3.0, 10.0)  # beta, as sweep lanes.
  return c
