"""Saving and loading with orbax: pre-trained parameters, and a sweep's state after each chunk.

Nothing here (or anywhere in lmrl) reads pickles. orbax writes a checkpoint under a temporary
name and renames it when complete, so a process killed while saving leaves the previous
checkpoint whole, and only finished checkpoints are ever restored. The last two checkpoints of
a sweep are kept: if the latest one cannot be read (a truncated or corrupted file), restoring
moves it aside and falls back to the one before it, and if none can be read it stops with one
line naming the directory; nothing is deleted.
"""

import json
import os
import zlib
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from lmrl import errors
from lmrl import files


KEEP = 2  # Checkpoints kept per sweep: the latest and one to fall back to.
MANIFEST = 'lmrl_manifest.json'  # In each step's directory: every file's size and CRC-32.


class CorruptCheckpointError(errors.UserError):
  """No checkpoint in a directory can be read; the message is one line naming it."""


def save_params(path: str, params) -> None:
  """Writes `params` to the directory `path` (which must not exist yet).

  The values are saved from the host (as NumPy arrays): with several processes, each holds the
  same parameters on its own devices, which orbax would refuse as process-local arrays.
  """
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(os.path.abspath(path), jax.tree_util.tree_map(np.asarray, params))
  checkpointer.wait_until_finished()


def load_params(path: str, like):
  """Reads parameters saved by `save_params`, with the structure and shapes of `like`."""
  abstract = jax.tree_util.tree_map(lambda x: np.empty(x.shape, x.dtype), like)
  host = ocp.StandardCheckpointer().restore(os.path.abspath(path), abstract)
  return jax.tree_util.tree_map(jnp.asarray, host)  # On this process's default device.


def _manager(directory: str) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      os.path.abspath(directory),
      options=ocp.CheckpointManagerOptions(max_to_keep=KEEP, enable_async_checkpointing=False))


def _file_table(step_dir: str) -> dict[str, list[int]]:
  """{relative path: [size, CRC-32]} of every file under `step_dir` but the manifest."""
  table = {}
  for root, _, names in os.walk(step_dir):
    for name in names:
      path = os.path.join(root, name)
      rel = os.path.relpath(path, step_dir)
      if rel == MANIFEST:
        continue
      crc = 0
      with open(path, 'rb') as f:
        while chunk := f.read(1 << 20):
          crc = zlib.crc32(chunk, crc)
      table[rel] = [os.path.getsize(path), crc]
  return table


def _damage(step_dir: str) -> str | None:
  """What is wrong with a step's files against its manifest, or None (also if it has none)."""
  path = os.path.join(step_dir, MANIFEST)
  if not os.path.exists(path):
    return None  # Saved before manifests, or killed just before writing it: orbax decides.
  try:
    with open(path) as f:
      expected = json.load(f)
  except (OSError, ValueError):
    return f'its {MANIFEST} cannot be read'
  found = _file_table(step_dir)
  for rel, (size, crc) in sorted(expected.items()):
    if rel not in found:
      return f'{rel} is missing'
    if found[rel][0] != size:
      return f'{rel} has {found[rel][0]} bytes, not {size}'
    if found[rel][1] != crc:
      return f'{rel} does not match its checksum'
  return None


def _pack(tree) -> dict[str, np.ndarray]:
  """The leaves of a pytree of host arrays, raveled and concatenated in order, one 1-D array per
  dtype: {dtype name: array}. orbax's save keeps ~0.5-0.7 KB of host memory per leaf and save
  that it never returns (`benchmarks/checkpoint_memory.py`); a sweep state of hundreds of leaves
  saved every chunk grew a long run's memory by MBs a chunk, a packed one by a few arrays'."""
  by_dtype: dict[str, list[np.ndarray]] = {}
  for leaf in jax.tree_util.tree_leaves(tree):
    leaf = np.asarray(leaf)
    by_dtype.setdefault(leaf.dtype.name, []).append(leaf.ravel())
  packed = {name: np.concatenate(parts) for name, parts in by_dtype.items()}
  return {name: x for name, x in packed.items() if x.size}  # orbax saves no empty array.


def _packed_like(like) -> dict[str, np.ndarray]:
  """Empty arrays with the shapes and dtypes `_pack` gives a tree shaped like `like`."""
  sizes: dict[str, tuple[int, np.dtype]] = {}
  for leaf in jax.tree_util.tree_leaves(like):
    dtype = np.dtype(leaf.dtype)
    total, _ = sizes.get(dtype.name, (0, dtype))
    sizes[dtype.name] = (total + int(np.prod(np.shape(leaf), dtype=np.int64)), dtype)
  return {name: np.empty((total,), dtype) for name, (total, dtype) in sizes.items() if total}


def _unpack(packed: dict[str, np.ndarray], like):
  """The tree shaped like `like` whose leaves `_pack` concatenated into `packed`."""
  leaves, treedef = jax.tree_util.tree_flatten(like)
  offsets = {name: 0 for name in packed}
  out = []
  for leaf in leaves:
    dtype, shape = np.dtype(leaf.dtype), np.shape(leaf)
    size = int(np.prod(shape, dtype=np.int64))
    if not size:
      out.append(np.zeros(shape, dtype))
      continue
    out.append(np.asarray(packed[dtype.name][offsets[dtype.name]:offsets[dtype.name] + size]
                          ).reshape(shape))
    offsets[dtype.name] += size
  return jax.tree_util.tree_unflatten(treedef, out)


def save_progress(directory: str, step: int, tree) -> None:
  """Saves a pytree of host (NumPy) arrays as step `step` of `directory`, keeping the last two.

  The leaves are saved packed, one array per dtype (`_pack`: orbax holds on to memory per leaf
  saved). Every process calls it with the same values; orbax writes them once. Then process 0
  writes the step's manifest (each file's size and CRC-32), which restoring checks.
  """
  manager = _manager(directory)
  manager.save(step, args=ocp.args.StandardSave(_pack(tree)))
  manager.wait_until_finished()
  manager.close()
  if jax.process_index() == 0:
    step_dir = os.path.join(directory, str(step))
    table = _file_table(step_dir)  # Before the manifest exists: it does not list itself.
    files.write_atomic(os.path.join(step_dir, MANIFEST), json.dumps(table))


def _unused(path: str) -> str:
  """`path`, or `path.1`, `path.2`, ...: the first that does not exist."""
  candidate, n = path, 0
  while os.path.exists(candidate):
    n += 1
    candidate = f'{path}.{n}'
  return candidate


def restore_progress(directory: str, like, log: Callable[[str], None] = print
                     ) -> tuple[int, object] | None:
  """(step, tree) of the last readable checkpoint in `directory`, shaped like `like`, or None.

  `like` gives only shapes and dtypes (its arrays may live on other processes' devices: nothing
  is copied). The tree comes back as NumPy arrays. A checkpoint that cannot be read is moved
  aside to `<directory>.unreadable-step<N>` with a line to `log`, and the one before it is
  tried; `CorruptCheckpointError` if none can be read.
  """
  if not os.path.isdir(directory):
    return None
  abstract = jax.tree_util.tree_map(lambda x: np.empty(np.shape(x), x.dtype), like)
  manager = _manager(directory)
  try:
    steps = sorted(manager.all_steps(), reverse=True)
    for step in steps:
      step_dir = os.path.join(directory, str(step))
      reason = _damage(step_dir)
      if reason is None:
        try:
          return step, _unpack(manager.restore(
              step, args=ocp.args.StandardRestore(_packed_like(abstract))), abstract)
        except Exception as error:  # pylint: disable=broad-except  (orbax/tensorstore errors)
          reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        try:  # Saved before checkpoints were packed: the tree itself.
          return step, manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception:  # pylint: disable=broad-except  (the packed layout's reason stands)
          pass
      # Moved aside (not deleted), so that the sweep can save this step again.
      aside = _unused(f'{os.path.abspath(directory)}.unreadable-step{step}')
      if jax.process_index() == 0:  # The one process that writes.
        os.replace(step_dir, aside)
      log(f'checkpoint step {step} of {directory} cannot be read ({reason}); moved to '
          f'{aside}, trying the one before it')
  finally:
    manager.close()
  if steps:
    raise CorruptCheckpointError(
        f'no checkpoint in {directory} can be read (steps {steps}, moved aside to '
        f'{os.path.abspath(directory)}.unreadable-step*); run the same command again to restart '
        'this sweep from its first round')
  return None
