"""A learner that keeps up with its data (#23): which rankings each joint step fits.

  python -m experiments.study --study=learner --runs=runs/studies
  python -m experiments.explore --config=learner:all --workdir=runs/studies/learner/all

Variants (`finetune.rows`), everything else the default's (8 joint steps a round, 40 rounds of 64
four-way rankings), 4 seeds, passive, boltzmann and infomax, and each lane's data refitted from
the pre-trained LM at rounds 20 and 40 (`experiment.refit_rounds`: the learner's lag):
  uniform  batches of 32 drawn uniformly from the whole buffer (the default until 'all')
  recent   half of each batch from the latest round
  all      every buffered ranking each step: the exact full-buffer gradient
  ema      uniform, deploying (and exploring with) the Polyak average of the parameters (d = 0.9)
The refit stops where its held-out loss was lowest (`experiment.refit_holdout_every`, lmrl.refit).

The issue's check, 16 seeds and 5,120 rankings (80 rounds), passive, uniform, boltzmann and
infomax, refits at rounds 40 and 80 (2,560 and 5,120 rankings):
  uniform16     the previous default's learner (uniform batches)
  all16         the exact full-buffer gradient, 8 steps a round
  all16_steps32 the same with 4x the steps (32 a round), 8 seeds, 40 rounds, refit at round 40:
                is the order of the strategies by refit KL the learner's or the data's?
"""

import experiments
from lmrl.configs import default

VARIANTS = ('uniform', 'recent', 'all', 'ema', 'uniform16', 'all16', 'all16_steps32')
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
  if arg in ('uniform16', 'all16', 'all16_steps32'):
    c.finetune.rows = arg[:arg.index('16')]
    c.experiment.strategies = ('passive', 'uniform', 'boltzmann', 'infomax')
    c.experiment.num_seeds = 16
    c.experiment.rounds = 80  # 5,120 rankings: the budget for f = 80%.
    c.experiment.refit_rounds = (40, 80)
    if arg == 'all16_steps32':  # 4x the steps, at half the budget and seeds (its cost is ~4x).
      c.finetune.steps_per_round = 32
      c.experiment.num_seeds = 8
      c.experiment.rounds = 40
      c.experiment.refit_rounds = (40,)
  return c
