"""The headline on other worlds: the default agent and settings held fixed, the world changed.

  python -m experiments.study --study=other_worlds --runs=runs/studies
  python -m experiments.explore --config=other_worlds:pairs \
      --workdir=runs/studies/other_worlds/pairs

Variants (`--config=other_worlds:VARIANT`), passive / uniform / infomax, 4 seeds, 2,560 choices:
  pairs    K = 2: one choice between two responses
  non_iia  each chooser ranks by their own group's taste q_g instead of Luce on p*
  groups3  a 0.5/0.3/0.2 population, the corpus of the first group only
  v8_ly4   V = 8, Ly = 4: 4,096 responses per prompt (and 8 prompts)
"""

import experiments
from lmrl.configs import default

VARIANTS = ('pairs', 'non_iia', 'groups3', 'v8_ly4')


def get_config(arg=None):
  experiments.check_variant('other_worlds', arg, VARIANTS)
  c = default.get_config()
  c.experiment.strategies = ('passive', 'uniform', 'infomax')  # Three strategies.
  c.experiment.num_seeds = 4  # 4 seeds.
  if arg == 'pairs':
    c.experiment.responses_per_prompt = 2  # K = 2: one choice between two.
  elif arg == 'non_iia':
    c.world.iia = False  # Each chooser uses their own group's taste.
  elif arg == 'groups3':
    c.world.group_weights = (0.5, 0.3, 0.2)  # Three groups.
    c.world.corpus_group_mix = (1.0, 0.0, 0.0)  # The corpus of the first group only.
  else:
    c.world.vocab_size = 8  # V = 8 (8 one-token prompts).
    c.world.response_length = 4  # Ly = 4: 4,096 responses a prompt.
  return c
