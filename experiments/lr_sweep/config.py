"""A learning-rate sweep: 3e-4, 1e-3 (the default), 3e-3 as lanes of one compilation.

  python -m experiments.explore --config=lr_sweep --workdir=runs/lr_sweep
  python -m experiments.study --study=lr_sweep --runs=runs/studies

The same as the headline with
`"--config.sweep.learning_rate=(3e-4,1e-3,3e-3)" --config.experiment.num_seeds=4
"--config.experiment.strategies=('uniform','infomax')"`.
"""

import experiments
from lmrl.configs import default

VARIANTS = ()  # One run.


def get_config(arg=None):
  experiments.check_variant('lr_sweep', arg, VARIANTS)
  c = default.get_config()
  c.experiment.num_seeds = 4  # 4 seeds.
  c.experiment.strategies = ('uniform', 'infomax')  # Two strategies.
  c.sweep.learning_rate = (3e-4, 1e-3, 3e-3)  # finetune.learning_rate, as sweep lanes.
  return c
