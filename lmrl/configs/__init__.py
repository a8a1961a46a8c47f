"""Experiment configs (`ml_collections` `get_config()` files), importable from a notebook.

  from lmrl.configs import tiny
  config = tiny.get_config()

The binaries take `--config=NAME` (a name below) or `--config=path/to/file.py`.
"""

import os

NAMES = ('default', 'tiny', 'paper')


def path(name: str) -> str:
  """The file of the config `name` (one of `NAMES`), for `--config=`."""
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), f'{name}.py')
