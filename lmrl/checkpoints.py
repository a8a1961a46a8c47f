"""Saving and loading with orbax: pre-trained parameters, and a sweep's state after each chunk.

Nothing here (or anywhere in lmrl) reads pickles. orbax writes a checkpoint under a temporary
name and renames it when complete, so a process killed while saving leaves the previous
checkpoint whole, and only finished checkpoints are ever restored.
"""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp


def save_params(path: str, params) -> None:
  """Writes `params` to the directory `path` (which must not exist yet)."""
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(os.path.abspath(path), params)
  checkpointer.wait_until_finished()


def load_params(path: str, like):
  """Reads parameters saved by `save_params`, with the structure and shapes of `like`."""
  abstract = jax.tree_util.tree_map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), like)
  return ocp.StandardCheckpointer().restore(os.path.abspath(path), abstract)


def _manager(directory: str) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      os.path.abspath(directory),
      options=ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False))


def save_progress(directory: str, step: int, tree) -> None:
  """Saves a pytree of host (NumPy) arrays as step `step` of `directory`, keeping only the last.

  Every process calls it with the same values; orbax writes them once.
  """
  manager = _manager(directory)
  manager.save(step, args=ocp.args.StandardSave(tree))
  manager.wait_until_finished()
  manager.close()


def restore_progress(directory: str, like) -> tuple[int, object] | None:
  """(step, tree) of the last complete checkpoint in `directory`, shaped like `like`, or None.

  The tree comes back as NumPy arrays.
  """
  if not os.path.isdir(directory):
    return None
  manager = _manager(directory)
  step = manager.latest_step()
  if step is None:
    manager.close()
    return None
  abstract = jax.tree_util.tree_map(lambda x: np.zeros(np.shape(x), np.asarray(x).dtype), like)
  tree = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  manager.close()
  return step, tree
