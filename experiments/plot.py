r"""Redraws the plots of a work directory from its results.csv (`lmrl.plotting.plot_workdir`).

  python -m experiments.plot --workdir=runs/default

Writes `<metric>_vs_queries.png` for every metric: mean ± 1 s.e. over the seeds (the count in
the title, failed seeds left out) vs. queries (human choices), coverage as a ratio to p*'s,
strategies coloured and ordered as in the run's config, a sweep's values told apart by style.
"""

import os
import sys

from absl import app
from absl import flags

from lmrl import plotting

_WORKDIR = flags.DEFINE_string('workdir', None, 'Work directory written by experiments.explore.')


def main(argv):
  del argv
  if not _WORKDIR.value or not os.path.exists(os.path.join(_WORKDIR.value, 'results.csv')):
    sys.exit(f'error: --workdir must be a directory with a results.csv, got {_WORKDIR.value!r}')
  for path in plotting.plot_workdir(_WORKDIR.value):
    print(f'wrote {path}')


if __name__ == '__main__':
  app.run(main)
