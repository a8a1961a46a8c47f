r"""Redraws the plots of a work directory from its results.csv.

  python -m lmrl.bin.plot --workdir=runs/default
"""

import os
import sys

from absl import app
from absl import flags

from lmrl import plotting

_WORKDIR = flags.DEFINE_string('workdir', None, 'Work directory written by explore.py.')


def main(argv):
  del argv
  if not _WORKDIR.value or not os.path.exists(os.path.join(_WORKDIR.value, 'results.csv')):
    sys.exit(f'error: --workdir must be a directory with a results.csv, got {_WORKDIR.value!r}')
  for path in plotting.plot_workdir(_WORKDIR.value):
    print(f'wrote {path}')


if __name__ == '__main__':
  app.run(main)
