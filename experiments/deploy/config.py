"""Deploying the members' mean-logits LM (`agent.deploy=mean_logits`) instead of their mixture.

  python -m experiments.study --study=deploy --runs=runs/studies
  python -m experiments.explore --config=deploy:mean_logits \
      --workdir=runs/studies/deploy/mean_logits

Variants (`--config=deploy:VARIANT`), 4 seeds, 40 rounds of 64 rankings (2,560):
  mean_logits  the five strategies deploying softmax(mean_m logits_m), beta = 1 and 3 as lanes
  mixture      passive and boltzmann with the default probability mixture, for the same seeds
               (the mixture's other strategies are the prior_scale study's)
"""

import experiments
from lmrl.configs import default

VARIANTS = ('mean_logits', 'mixture')


def get_config(arg=None):
  experiments.check_variant('deploy', arg, VARIANTS)
  c = default.get_config()
  c.experiment.num_seeds = 4  # 4 seeds.
  if arg == 'mean_logits':
    c.agent.deploy = 'mean_logits'  # Deploy the members' mean-logits LM (centred priors cancel).
    c.sweep.prior_scale = (1.0, 3.0)  # beta = 1 and 3 as sweep lanes.
  else:
    c.experiment.strategies = ('passive', 'boltzmann')  # The two prior_scale did not run.
  return c
