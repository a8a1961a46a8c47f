"""Saving and loading parameter pytrees with orbax."""

import os

import jax
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
