r"""Pre-trains the LM on the (majority-biased) corpus and reports its exact KL.

  python -m experiments.pretrain --config=default --workdir=runs/pt

Writes `--workdir/pretrained` (orbax parameters), `pretrain.json` (KL of the pre-trained LM to the
majority's taste and to p*, and group coverage against p*'s) and `config.json`, and prints the
report. `experiments.explore` with the same `--workdir` loads these parameters instead of
re-training. `--pretrained_cache_clear=stale|all` empties the shared cache of pre-trained LMs
first (alone, without `--workdir`, it does only that).
"""

import json
import os

from absl import app
from absl import flags
from absl import logging

from lmrl import checks
from lmrl import errors
from lmrl import files
from lmrl import flags as lmrl_flags
from lmrl import pipeline
from lmrl import workdir as workdir_lib

_CONFIG = lmrl_flags.define_config_flag('default')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for the parameters and report.')
_PRETRAINED_CACHE, _PRETRAINED_CACHE_CLEAR = lmrl_flags.define_pretrained_cache_flags()
_MALLOC_ARENA_MAX = lmrl_flags.define_malloc_arena_flag()


def _pretrain(config, workdir: str) -> dict:
  """Pre-trains (or loads from the cache) into the new `workdir`; the report."""
  checks.validate_world(config)
  if os.path.exists(os.path.join(workdir, 'pretrained')):
    raise errors.ConfigError(f'--workdir {workdir} already holds a pre-trained LM; '
                             'choose a new --workdir')
  with workdir_lib.lock(workdir), workdir_lib.on_disk_full(workdir):
    files.write_atomic(os.path.join(workdir, 'config.json'), config.to_json(indent=2))
    spec, lm_spec, world = pipeline.build_world(config)
    return pipeline.pretrained_lm(config, spec, lm_spec, world, workdir,
                                  cache_dir=_PRETRAINED_CACHE.value or None)[1]


def main(argv):
  del argv
  lmrl_flags.limit_malloc_arenas(_MALLOC_ARENA_MAX.value)  # Before JAX starts its threads.
  logging.set_verbosity(logging.WARNING)
  try:
    if lmrl_flags.clear_pretrained_cache_first(_PRETRAINED_CACHE.value,
                                               _PRETRAINED_CACHE_CLEAR.value, _WORKDIR.value):
      return  # Only the clearing was asked for.
    report = _pretrain(_CONFIG.value, _WORKDIR.value)
  except errors.UserError as error:
    raise SystemExit(f'error: {error}') from None
  print(json.dumps(report, indent=2))


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
