"""The binaries' command line: `--config` by name, the pre-trained-LM cache flags, one-line errors.

  from absl import app
  from lmrl import flags as lmrl_flags

  _CONFIG = lmrl_flags.define_config_flag('default')
  ...
  app.run(main, flags_parser=lmrl_flags.parse_flags)

`--config=NAME` names a config: `default` and `tiny` are `lmrl/configs/NAME.py` (the schema, a
one-minute run); any other NAME is the study `experiments/NAME/config.py`; `NAME:VARIANT` passes
VARIANT to the config's `get_config` (ml_collections' `path.py:arg`), and a config file's path
works as well. `config_names()` lists the names. An unknown name, a bad flag, a bad or repeated
`--config.x=` override and a config file that does not load exit with one line `error: ...` and
status 1, before anything is compiled or written.

The flags defined here are key flags of the binary that calls `define_*` (this module disclaims
them), so the binary's `--help` lists them; absl's `--help` shows the main module's key flags
only (`--helpfull` shows all).
"""

import ast
import difflib
import importlib.util
import os
import re
import sys

from absl import flags as absl_flags

from lmrl import configs
from lmrl import errors
from lmrl import host_memory

absl_flags.disclaim_key_flags()  # Flags defined below belong to the calling binary.

_FLAG_ERRORS = (AttributeError, KeyError, OSError, TypeError, ValueError)


def experiments_dir() -> str | None:
  """The folder of the `experiments` package (its studies are subfolders), found without
  importing it; None when it is not installed."""
  spec = importlib.util.find_spec('experiments')
  locations = list(spec.submodule_search_locations or []) if spec else []
  return locations[0] if locations else None


def _study_config(name: str) -> str | None:
  root = experiments_dir()
  path = os.path.join(root, name, 'config.py') if root else None
  return path if path and os.path.isfile(path) else None


def config_names() -> tuple[str, ...]:
  """The names `--config=` takes: `default`, `tiny`, then every study of `experiments/`."""
  root = experiments_dir()
  studies = sorted(n for n in (os.listdir(root) if root else ())
                   if n not in configs.NAMES and _study_config(n))
  return tuple(configs.NAMES) + tuple(studies)


def variants(path: str) -> tuple[str, ...] | None:
  """The config file's module-level `VARIANTS = (...)` tuple, read without importing it; None
  when it has none."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  for node in tree.body:
    if (isinstance(node, ast.Assign) and len(node.targets) == 1
        and getattr(node.targets[0], 'id', None) == 'VARIANTS'):
      return tuple(ast.literal_eval(node.value))
  return None


def config_path(value: str) -> str:
  """`NAME[:VARIANT]` as `path/to/config.py[:VARIANT]`; a path to a file is returned as it is."""
  name, colon, variant = value.partition(':')
  if not name.isidentifier():  # A path ('missing.py', 'dir/config.py'): ml_collections loads it.
    return value
  path = configs.path(name) if name in configs.NAMES else _study_config(name)
  if path is None:
    raise errors.ConfigError(f'unknown config {name!r}; known: {", ".join(config_names())}')
  known = variants(path)
  if colon and known is not None and variant not in known:
    raise errors.ConfigError(f'config {name!r} has no variant {variant!r}; known: '
                             f'{", ".join(known) or "none"}')
  if not colon and known:  # A study of several runs: say which.
    raise errors.ConfigError(f'config {name!r} needs a variant, --config={name}:VARIANT; known: '
                             f'{", ".join(known)}')
  return path + colon + variant


def _exit_with_one_line(error: Exception, config_file: str | None = None,
                        argv: list[str] = ()) -> None:
  """Exits with `error: <the error, on one line>` (status 1). An unknown field of `config_file`
  named by a `--config.x` override of `argv` is said as that override."""
  message = ' '.join(str(error).replace('\\n', ' ').split())
  if isinstance(error, (AttributeError, KeyError, TypeError)) and config_file:
    message = _unknown_field(config_file, argv) or message
  if isinstance(error, (AttributeError, KeyError)) and not message.startswith('--config.'):
    message = f'a --config override names no such config field: {message}'
  sys.exit(f'error: {message}')


def _override_paths(argv: list[str]) -> list[str]:
  """The dotted field of each `--config.x=v` (also `--config.x`, `--noconfig.x`) in `argv`."""
  return [a.split('=', 1)[0].split('config.', 1)[1] for a in argv
          if a.startswith(('--config.', '--noconfig.'))]


def _field_problem(config, path: str) -> str | None:
  """Why `config.<path>` names no field ('config.world has no field ...'), or None."""
  node, seen = config, 'config'
  for name in path.split('.'):
    if not hasattr(node, 'keys'):
      return f'{seen} is a field, not a section'
    if name not in node:
      close = difflib.get_close_matches(name, [str(k) for k in node.keys()], n=1)
      hint = f' (did you mean {seen}.{close[0]}?)' if close else ''
      return f'{seen} has no field {name!r}{hint}'
    node, seen = node[name], f'{seen}.{name}'
  return None


def _unknown_field(config_file: str, argv: list[str]) -> str | None:
  """'--config.x names no such config field: ...' for the first override of `argv` that names
  no field of the config `config_file` (`path[:variant]`) loads; None if each names one."""
  path, *arg = config_file.split(':', 1)  # As `config_flags` loads it: get_config(*arg).
  try:
    spec = importlib.util.spec_from_file_location('_lmrl_config_of_an_error', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config(*arg)
  except Exception:  # pylint: disable=broad-except  # (The caller says the original error.)
    return None
  for path in _override_paths(argv):
    problem = _field_problem(config, path)
    if problem:
      return f'--config.{path} names no such config field: {problem}'
  return None


def _check_override_names(argv: list[str]) -> None:
  """Each `--config.x` override names a dotted field (`section.field`): refuses '--config.=1',
  '--config.world.=1' in one line, before `config_flags` parses them."""
  for path in _override_paths(argv):
    if not re.fullmatch(r'[A-Za-z_]\w*(\.[A-Za-z_]\w*)*', path):
      raise errors.ConfigError(f'--config.{path} is not a config field: override one as '
                               '--config.section.field=value')


def _check_no_section_replaced(config_flag) -> None:
  """A `--config.section={...}` override would replace the whole section (dropping or adding
  fields unchecked): refused in one line; each field is overridden on its own."""
  for path, value in getattr(config_flag, 'override_values', {}).items():
    if hasattr(value, 'keys'):
      raise errors.ConfigError(f'--config.{path} would replace the whole section config.{path}, '
                               f'got {value.to_dict() if hasattr(value, "to_dict") else value!r}:'
                               f' override its fields one by one, --config.{path}.FIELD=VALUE')


def _normalise_argv(argv: list[str]) -> list[str]:
  """`--config=NAME` as its file, and each `--config.x=` override given once: the last wins.

  (`config_flags` parses a tuple field's repeated override by concatenating the values; every
  other absl flag takes the last value, and so do these.)
  """
  argv = [f'--config={config_path(a[len("--config="):])}' if a.startswith('--config=') else a
          for a in argv]
  last = {a.split('=', 1)[0]: i for i, a in enumerate(argv)
          if a.startswith('--config.') and '=' in a}
  return [a for i, a in enumerate(argv)
          if not (a.startswith('--config.') and '=' in a) or last[a.split('=', 1)[0]] == i]


def define_config_flag(default: str = 'default', note: str = ''):
  """`config_flags.DEFINE_config_file('config', default)` for the binaries: a key flag of the
  caller (in its `--help`), whose help lists the known names, then `note`.

  `--config=NAME` names a config (`config_names()`; `sys.argv` is rewritten to its file before
  the flag is defined, since `config_flags` reads it then), and a repeated `--config.x=`
  override keeps its last value, as every absl flag does. Without `--config` the default is
  loaded, and its `--config.x=` overrides applied, as the flag is defined (at import): a bad
  override or an unknown name exits there with one line.
  """
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  help_text = (f'Experiment config: a name ({", ".join(config_names())}), NAME:VARIANT for a '
               "study's variant, or a config file's path; override any field with "
               f'--config.section.field=value. {note}').strip()
  try:
    sys.argv = _normalise_argv(sys.argv)
    _check_override_names(sys.argv)
    return config_flags.DEFINE_config_file('config', config_path(default), help_text)
  except _FLAG_ERRORS as error:
    _exit_with_one_line(error, config_path(default), sys.argv)


def define_malloc_arena_flag():
  """`--malloc_arena_max`: glibc's malloc arenas for the process (`lmrl.host_memory`); apply it
  with `limit_malloc_arenas(flag.value)` first thing in `main`. Defined once per process: a
  second binary module imported beside the first (a test, a notebook) shares it."""
  if 'malloc_arena_max' in absl_flags.FLAGS:
    return absl_flags.FlagHolder(absl_flags.FLAGS, absl_flags.FLAGS['malloc_arena_max'])
  return absl_flags.DEFINE_integer(
      'malloc_arena_max', 0,
      "glibc's malloc arenas for this process (0: glibc's own, 8 per core). 2 keeps a long run's "
      'host memory flat (~150-200 MB lower on the default world) at ~10% more seconds a round '
      '(docs/running.md).', lower_bound=0)


def limit_malloc_arenas(arena_max: int) -> None:
  """Applies `--malloc_arena_max` (0 leaves glibc as it is); before JAX starts its threads."""
  if arena_max:
    host_memory.limit_malloc_arenas(arena_max)


def define_pretrained_cache_flags():
  """(`--pretrained_cache`, `--pretrained_cache_clear`) for the binaries that pre-train."""
  from lmrl import runner  # pylint: disable=g-import-not-at-top
  cache = absl_flags.DEFINE_string(
      'pretrained_cache', runner.default_pretrained_cache(),
      'Directory of pre-trained LMs shared by runs, keyed by the seed, the world, LM and '
      'pre-training config and the code that pre-trains ($LMRL_PRETRAINED_CACHE); empty: off.')
  clear = absl_flags.DEFINE_enum(
      'pretrained_cache_clear', None, ['stale', 'all'],
      "Empty --pretrained_cache first: 'stale' removes the entries this code did not write "
      "(never served), 'all' every entry; says what it freed, then runs (or, without "
      '--workdir, exits).')
  return cache, clear


def clear_pretrained_cache_first(cache_dir: str, which: str | None, workdir: str | None) -> bool:
  """`--pretrained_cache_clear=which` (None: not asked), before a binary's run: empties the cache
  (`lmrl.pretrained_cache.clear`) and prints what it freed, in one line. True when that was
  all the command asked (no `--workdir`); without either, `--workdir is required`."""
  if which:
    print(_clear_pretrained_cache(cache_dir, which), flush=True)
  if not workdir and not which:
    raise errors.ConfigError('--workdir is required')
  return not workdir


def _clear_pretrained_cache(cache_dir: str, which: str) -> str:
  from lmrl import pretrained_cache  # pylint: disable=g-import-not-at-top
  if not cache_dir:
    raise errors.ConfigError('--pretrained_cache_clear needs a --pretrained_cache directory')
  removed, freed, kept = pretrained_cache.clear(cache_dir, stale_only=which == 'stale')
  entries = lambda n: f'{n} entr{"y" if n == 1 else "ies"}'
  stale = ' not written by this code' if which == 'stale' else ''
  return (f'--pretrained_cache_clear={which}: removed {entries(removed)}{stale} from {cache_dir}, '
          f'freed {freed / 1e6:.1f} MB ({freed} bytes); kept {entries(kept)}')


def parse_flags(argv: list[str]) -> list[str]:
  """The binaries' absl flag parser (`app.run(main, flags_parser=lmrl_flags.parse_flags)`).

  A bad flag, an unknown config name, an unknown or ill-typed `--config.x=` override (an unknown
  field said by its full path, `--config.world.vocab_sise`), an override replacing a whole
  section (`--config.world={...}`), or a config file that does not load exits with one line
  `error: ...` and status 1, instead of absl's or ml_collections' traceback; nothing has been
  written or compiled by then (tests/test_bad_input.py draws such command lines).
  """
  try:
    argv = _normalise_argv(argv)
    _check_override_names(argv)
    remaining = absl_flags.FLAGS(argv)
    if 'config' in absl_flags.FLAGS:
      absl_flags.FLAGS.config.keys()  # A config file that failed to load raises here, not later.
      _check_no_section_replaced(absl_flags.FLAGS['config'])
  except (absl_flags.Error, *_FLAG_ERRORS) as error:
    files = [a[len('--config='):] for a in argv if a.startswith('--config=')]
    _exit_with_one_line(error, files[-1] if files else None, argv)
  return remaining
