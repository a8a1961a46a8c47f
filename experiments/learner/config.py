"""A learner that keeps up with its data (#23): which rankings each joint step fits.

  python -m experiments.study --study=learner --runs=runs/studies
  python -m experiments.explore --config=learner:all --workdir=runs/studies/learner/all

Variants (`finetune.rows`), everything else the default's (8 joint steps a round, 40 rounds of 64
four-way rankings), 4 seeds, passive, boltzmann and infomax, and each lane's data refitted from
the pre-trained LM at rounds 20 and 40 (`experiment.refit_rounds`: the learner's lag):
  uniform  batches of 32 drawn uniformly from the whole buffer (today's learner)
  recent   half of each batch from the latest round
  all      every buffered ranking each step: the exact full-buffer gradient
  ema      uniform, deploying (and exploring with) the Polyak average of the parameters (d = 0.9)
The refit stops where its held-out loss was lowest (`experiment.refit_holdout_every`, lmrl.refit).
"""

import experiments
from lmrl.configs import default

VARIANTS = ('uniform', 'recent', 'all', 'ema')
EMA_DECAY = 0.9  # The 'ema' variant's average: a horizon of ~10 steps, about a round's 8.


def get_config(arg=None):
  experiments.check_variant('learner', arg, VARIANTS)
  c = default.get_config()
  c.experiment.num_seeds = 4  # 4 seeds.
  c.experiment.strategies = ('passive', 'boltzmann', 'infomax')  # Three strategies.
  c.finetune.rows = 'uniform' if arg == 'ema' else arg  # Which rankings a step fits.
  if arg == 'ema':  # Uniform replay, the Polyak average deployed.
    c.finetune.ema_decay = EMA_DECAY
  c.experiment.refit_rounds = (20, 40)  # Refit every lane's data at 1,280 and 2,560 rankings.
  return c
