"""Experiment configs (`ml_collections` `get_config()` files), importable from a notebook.

  from lmrl.configs import tiny
  config = tiny.get_config()

The binaries take `--config=NAME`: a name below (the schema `default`, every field with one
comment, and `tiny`, a one-minute run), a study of `experiments/` (`experiments/NAME/config.py`,
`NAME:VARIANT` for one of its variants; `lmrl.flags.config_names()` lists them all) or a config
file's path.
"""

import os

NAMES = ('default', 'tiny')


def path(name: str) -> str:
  """The file of the config `name` (one of `NAMES`), for `--config=`."""
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), f'{name}.py')
