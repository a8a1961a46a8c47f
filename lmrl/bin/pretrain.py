r"""Pre-trains the LM on the (majority-biased) corpus and reports its exact KL.

  python -m lmrl.bin.pretrain --config=default --workdir=runs/pt

Writes `--workdir/pretrained` (orbax parameters), `pretrain.json` (KL of the pre-trained LM to the
majority's taste and to p*, and group coverage against p*'s) and `config.json`, and prints the
report. `lmrl.bin.explore` with the same `--workdir` loads these parameters instead of
re-training.
"""

import json
import os
import sys

from absl import app
from absl import flags
from absl import logging

from lmrl import checks
from lmrl import pipeline
from lmrl import results
from lmrl import runner
from lmrl import workdir as workdir_lib

_CONFIG = checks.define_config_flag('default')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for the parameters and report.')
_PRETRAINED_CACHE = flags.DEFINE_string(
    'pretrained_cache', runner.default_pretrained_cache(),
    'Directory of pre-trained LMs shared by runs ($LMRL_PRETRAINED_CACHE); empty: off.')


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  config = _CONFIG.value
  try:
    checks.validate_world(config)
    if not _WORKDIR.value:
      raise checks.ConfigError('--workdir is required')
    if os.path.exists(os.path.join(_WORKDIR.value, 'pretrained')):
      raise checks.ConfigError(f'--workdir {_WORKDIR.value} already holds a pre-trained LM; '
                               'choose a new --workdir')
  except checks.UserError as error:
    sys.exit(f'error: {error}')
  try:
    with workdir_lib.lock(_WORKDIR.value), workdir_lib.on_disk_full(_WORKDIR.value):
      results.write_atomic(os.path.join(_WORKDIR.value, 'config.json'),
                           config.to_json(indent=2))
      spec, lm_spec, world = pipeline.build_world(config)
      _, report = pipeline.pretrained_lm(config, spec, lm_spec, world, _WORKDIR.value,
                                         cache_dir=_PRETRAINED_CACHE.value or None)
  except checks.UserError as error:
    sys.exit(f'error: {error}')
  print(json.dumps(report, indent=2))


if __name__ == '__main__':
  app.run(main, flags_parser=checks.parse_flags)
