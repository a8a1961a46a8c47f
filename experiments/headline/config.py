"""The headline: every strategy on the default world, 16 seeds, 2,560 four-way rankings.

  python -m experiments.explore --config=headline --workdir=runs/headline
  python -m experiments.study --study=headline --runs=runs/studies

The schema default (`lmrl/configs/default.py`) unchanged: this study is that config, given a
name of its own so that its command, results and write-up sit together (README.md, results/).
"""

import experiments
from lmrl.configs import default

VARIANTS = ()  # One run.


def get_config(arg=None):
  experiments.check_variant('headline', arg, VARIANTS)
  return default.get_config()  # Nothing overridden.
