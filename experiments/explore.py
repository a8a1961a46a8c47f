r"""How many human choices does each exploration strategy need? (the headline experiment)

  python -m experiments.explore --config=default --workdir=runs/default

`--config` is a config name (`default`, `tiny`, or a study of `experiments/`, e.g. `headline`,
`other_worlds:pairs`), or a config file; override any field with `--config.section.field=value`.
Runs `lmrl.run(config, workdir)`: see `lmrl/runner.py` for the files it writes and how a killed
run resumes (the same command again). `--pretrained_cache_clear=stale|all` empties the shared
cache of pre-trained LMs first (alone, without `--workdir`, it does only that).
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
import jax

from lmrl import errors
from lmrl import flags as lmrl_flags
from lmrl import runner

_CONFIG = lmrl_flags.define_config_flag('default')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for results; resumed if it exists.')
_CACHE = flags.DEFINE_string(
    'compilation_cache', runner.DEFAULT_COMPILATION_CACHE,
    "JAX's persistent compilation cache directory ('' turns it off): a second run on the same "
    'shapes (a resume, a rerun) loads compiled programs instead of compiling them again.')
_PRETRAINED_CACHE, _PRETRAINED_CACHE_CLEAR = lmrl_flags.define_pretrained_cache_flags()
_MALLOC_ARENA_MAX = lmrl_flags.define_malloc_arena_flag()
# Several processes without a cluster manager that jax.distributed detects (e.g. on one machine):
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'host:port of process 0, for jax.distributed.initialize; '
    'with --num_processes and --process_id (and --config.experiment.distributed=True).')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None, 'Processes of the job.',
                                      lower_bound=1)
_PROCESS_ID = flags.DEFINE_integer('process_id', None, 'This process (0 writes the files).',
                                   lower_bound=0)


def _distribute() -> None:
  """Joins the `jax.distributed` job of `--coordinator_address`, if one is given."""
  if _COORDINATOR.value is None:
    return
  if not _CONFIG.value.experiment.distributed:
    raise errors.ConfigError('--coordinator_address needs --config.experiment.distributed=True')
  # CPU devices of different processes talk through gloo (no effect on accelerators).
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value,
                             heartbeat_timeout_seconds=_CONFIG.value.experiment.heartbeat_seconds)


def main(argv):
  del argv
  lmrl_flags.limit_malloc_arenas(_MALLOC_ARENA_MAX.value)  # Before JAX starts its threads.
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO.
  runner.use_compilation_cache(_CACHE.value)
  try:
    if lmrl_flags.clear_pretrained_cache_first(_PRETRAINED_CACHE.value,
                                               _PRETRAINED_CACHE_CLEAR.value, _WORKDIR.value):
      return  # Only the clearing was asked for.
    _distribute()
    runner.run(_CONFIG.value, _WORKDIR.value, log=lambda line: print(line, flush=True),
               pretrained_cache=_PRETRAINED_CACHE.value or None)
  except errors.LostProcessError as error:
    # Exit now: JAX's shutdown at exit would wait for the lost process, then abort with a C++ log.
    print(f'error: {error}', file=sys.stderr, flush=True)
    os._exit(1)  # pylint: disable=protected-access
  except errors.UserError as error:
    raise SystemExit(f'error: {error}') from None


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
