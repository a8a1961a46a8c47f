"""The work directory: one run at a time, the config it holds, who writes, and one-line faults.

A run's work directory (`lmrl.runner` lists its files) is guarded so that no fault loses what
is already there:

* `lock(workdir)`: an exclusive advisory lock (`fcntl.flock`) on `workdir/.lock`, held for the
  whole run. A second run on the same directory is refused with one line naming the holder's
  pid. The kernel drops the lock when its process ends, however it ends (SIGKILL included), so
  a killed run never leaves it stuck. (flock is local to one machine: on a network file system
  shared by several hosts it may not exclude another host's run.)
* `prepare(workdir, config)`: creates the directory with `config.json`, or checks that it holds
  a run of the same config; anything else is refused, naming the fields that differ. A field
  that the saved config lacks (added to lmrl since that run) counts as the same when it has its
  default value here: a new field's default keeps the behaviour it did not exist for (the
  project's rule, checked by a byte-identical `results.csv` whenever a field is added), so an
  upgraded lmrl resumes an older run; `config.json` is then rewritten with the new fields.
* `saved_config(workdir)`: the config a run saved there, for scripts that read a finished or
  interrupted run (JSON lists back as tuples, fields it lacks at their defaults).
* `on_disk_full(workdir)`: a full disk or quota (ENOSPC, EDQUOT) while writing becomes a
  `WorkdirError` naming the file. Every result file is written under a temporary name and
  renamed (`files.atomic_path`), so what was written before is intact and no half file is
  left.
* Several processes (`jax.distributed`): every process computes, only process 0 (`is_writer()`)
  writes files; the others wait for it at a `barrier`. A refusal on process 0 is sent to every
  process (`agree`), so all of them stop with the same line.
"""

import contextlib
import errno
import fcntl
import json
import os

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from lmrl import errors
from lmrl import files
from lmrl.configs import default

LOCK_FILE = '.lock'
# A many-world run's record that its lanes' keys are by world seed (`lmrl.pipeline.lane_keys`,
# since 4 Dec 2026): a work directory of such a run begun before then had other keys.
LANE_KEYS_FILE = 'lane_keys'
LANE_KEYS_BY_WORLD = 'by world seed: lmrl.pipeline.lane_keys\n'
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


WorkdirError = errors.WorkdirError  # Defined with the other faults (`lmrl.files` raises it too).


class ForeignWorkdir(WorkdirError):
  """The work directory holds a run of another config, or files that are not a run's."""


def is_writer() -> bool:
  """Whether this process writes files: process 0 (the only one without jax.distributed)."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Waits until every process gets here (nothing to wait for with one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f'lmrl:{name}')


def agree(ok: bool, message: str) -> None:
  """Raises `ForeignWorkdir(message)` on every process if process 0 says `ok` is False."""
  if jax.process_count() > 1:
    ok = bool(multihost_utils.broadcast_one_to_all(np.int32(ok)))
  if not ok:
    raise ForeignWorkdir(message)


@contextlib.contextmanager
def lock(workdir: str):
  """Holds `workdir/.lock` exclusively for the `with` block (process 0 only); see above.

  If the block refuses the directory (`ForeignWorkdir`), the lock file (and the directory, if
  this call made it and it is empty) is removed again: a refused directory is left as it was.
  """
  if not is_writer():
    yield
    return
  created_dir = not os.path.isdir(workdir)
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, LOCK_FILE)
  created_lock = not os.path.exists(path)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    holder = os.pread(fd, 64, 0).decode(errors='replace').strip() or 'unknown'
    os.close(fd)
    raise WorkdirError(f'--workdir {workdir} is in use by another run (pid {holder}); wait '
                       f'for it to end, or choose another --workdir') from None
  try:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
    yield
  except ForeignWorkdir:
    if created_lock:
      os.remove(path)
      if created_dir and not os.listdir(workdir):
        os.rmdir(workdir)
    raise
  finally:
    os.close(fd)  # Releases the lock.


def _flatten(tree, prefix: str = '') -> dict:
  if not isinstance(tree, dict):
    return {prefix: tree}
  return {k: v for key, value in tree.items()
          for k, v in _flatten(value, f'{prefix}.{key}' if prefix else key).items()}


def config_differences(saved: dict, current: dict, defaults: dict | None = None, *,
                       symmetric: bool = False, names: tuple[str, str] = ('there', 'here'),
                       ignore: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
  """(differences as 'field: X there, Y here' lines, fields added since) of two configs as JSON.

  A field only in `current` is "added since" (not a difference) when it has its value in
  `defaults` (the default config's JSON, read when None); with `symmetric`, so is a field only in
  `saved` (two runs, either of which may predate the field). `names` name the two sides in the
  lines; fields in `ignore` are not compared.
  """
  if defaults is None:
    from lmrl.configs import default  # pylint: disable=g-import-not-at-top
    defaults = json.loads(default.get_config().to_json())
  saved, current, defaults = _flatten(saved), _flatten(current), _flatten(defaults)
  first, second = names
  differences, added = [], []
  for field in sorted((set(saved) | set(current)) - set(ignore)):
    if field not in current:
      if symmetric and field in defaults and saved[field] == defaults[field]:
        added.append(field)
      else:
        differences.append(f'{field}: {saved[field]!r} {first}, no such field {second}')
    elif field not in saved:
      if field in defaults and current[field] == defaults[field]:
        added.append(field)
      else:
        differences.append(f'{field}: absent {first}, {current[field]!r} {second}')
    elif saved[field] != current[field]:
      differences.append(f'{field}: {saved[field]!r} {first}, {current[field]!r} {second}')
  return differences, added


def prepare(workdir: str, config) -> None:
  """Creates `workdir` with `config.json`, or checks that it holds a run of the same config.

  Raises `ForeignWorkdir` for a directory of another config, a non-empty one without a
  `config.json`, or a many-world run begun before lanes were keyed by world seed (no
  `LANE_KEYS_FILE`; a new many-world run gets one). With several processes, process 0 decides and
  writes; the others agree.
  """
  path = os.path.join(workdir, 'config.json')
  config_json = config.to_json(indent=2)
  problem = None
  if is_writer():
    contents = set(os.listdir(workdir)) - {LOCK_FILE} if os.path.isdir(workdir) else set()
    if os.path.exists(path):
      with open(path) as f:
        saved = json.load(f)
      differences, added = config_differences(saved, json.loads(config_json))
      if differences:
        problem = (f'--workdir {workdir} holds a run with a different config '
                   f'({"; ".join(differences)}); choose a new --workdir')
      else:
        problem = _lane_keys_problem(workdir, config)
        if problem is None and added:
          files.write_atomic(path, config_json)
    elif contents:
      problem = (f'--workdir {workdir} is not empty and holds no config.json; choose a new '
                 '--workdir')
    else:
      os.makedirs(workdir, exist_ok=True)
      files.write_atomic(path, config_json)
    if problem is None:
      for sub in ('results', 'checkpoints'):  # Also after `pretrain` made the directory.
        os.makedirs(os.path.join(workdir, sub), exist_ok=True)
      if config.world.get('num_worlds', 1) > 1:
        files.write_atomic(os.path.join(workdir, LANE_KEYS_FILE), LANE_KEYS_BY_WORLD)
  agree(problem is None, problem or '')
  barrier('prepared')


def saved_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run saved in `workdir/config.json`: the default config updated with it (JSON
  lists back as tuples; a field the run predates keeps its default, as `prepare` assumes)."""
  def tuples(x):
    if isinstance(x, dict):
      return {k: tuples(v) for k, v in x.items()}
    return tuple(tuples(v) for v in x) if isinstance(x, list) else x

  with open(os.path.join(workdir, 'config.json')) as f:
    saved = json.load(f)
  config = default.get_config()
  config.update(ml_collections.ConfigDict(tuples(saved)))
  return config


def _lane_keys_problem(workdir: str, config) -> str | None:
  """Why a many-world run in `workdir` cannot go on (None if it can): it has results or
  checkpoints but no `LANE_KEYS_FILE`, so its lanes were keyed before keys went by world seed,
  and resuming it would join lanes of two kinds."""
  if (config.world.get('num_worlds', 1) == 1
      or os.path.exists(os.path.join(workdir, LANE_KEYS_FILE))):
    return None
  begun = [sub for sub in ('results', 'checkpoints')
           if os.path.isdir(os.path.join(workdir, sub)) and os.listdir(os.path.join(workdir, sub))]
  if not begun:
    return None
  return (f'--workdir {workdir} holds a many-world run begun before lmrl keyed lanes by world '
          f'seed (its {" and ".join(begun)} are there, its {LANE_KEYS_FILE} file is not): its '
          'lanes would not match the ones run now; choose a new --workdir')


@contextlib.contextmanager
def on_disk_full(workdir: str):
  """Turns a full disk or quota while writing into a one-line `WorkdirError` naming the file."""
  try:
    yield
  except OSError as error:
    if error.errno not in DISK_FULL:
      raise
    where = error.filename or workdir
    raise WorkdirError(f'disk full while writing {where} ({os.strerror(error.errno)}); files '
                       f'written before are intact: free space and run the same command again '
                       'to resume') from None
