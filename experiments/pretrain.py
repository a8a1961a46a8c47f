r"""Pre-trains the LM on the (majority-biased) corpus and reports its exact KL.

  python experiments/pretrain.py --config=experiments/configs/default.py --workdir=runs/pt

Writes `--workdir/pretrained` (orbax parameters), `pretrain.json` (KL of the pre-trained LM to the
majority's taste and to p*, and group coverage against p*'s) and `config.json`, and prints the
report. `explore.py` with the same `--workdir` loads these parameters instead of re-training.
"""

import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # Config files import `experiments.configs.default`.
  sys.path.insert(0, REPO_ROOT)

from absl import app  # pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags  # pylint: disable=wrong-import-position
from absl import logging  # pylint: disable=wrong-import-position

from lmrl import checks  # pylint: disable=wrong-import-position
from lmrl import pipeline  # pylint: disable=wrong-import-position
from lmrl import results  # pylint: disable=wrong-import-position

_CONFIG = checks.define_config_flag('experiments/configs/default.py')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for the parameters and report.')


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
  except checks.ConfigError as error:
    sys.exit(f'error: {error}')
  os.makedirs(_WORKDIR.value, exist_ok=True)
  results.write_atomic(os.path.join(_WORKDIR.value, 'config.json'), config.to_json(indent=2))
  spec, lm_spec, world = pipeline.build_world(config)
  _, report = pipeline.pretrained_lm(config, spec, lm_spec, world, _WORKDIR.value)
  print(json.dumps(report, indent=2))


if __name__ == '__main__':
  app.run(main, flags_parser=checks.parse_flags)
