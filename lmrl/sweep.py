"""Sweeping one strategy over many seeds: vmapped, compiled once, chunked and resumable.

`make_sweep(experiment)` vmaps the experiment's pure functions over seeds and jits them. The
rounds are run in chunks of equal length (one compilation serves them all); after each chunk the
whole sweep state is checkpointed, so a killed sweep resumes from its last chunk and ends with the
same results as an uninterrupted one (all randomness is `fold_in(seed key, round)`).

With `shard_seeds`, the seed axis of keys and states is laid across every device of a 1-D `Mesh`
with a `NamedSharding`; `jit` then runs each device's seeds where they live. The same code runs
on one CPU, on several devices, and (after `jax.distributed.initialize`) across hosts.
"""

import os
import time
from typing import Callable, NamedTuple

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from lmrl import experiment as experiment_lib


class Sweep(NamedTuple):
  init: Callable  # (keys_S, base_params, world) -> RunState with leading seed axis
  run_chunk: Callable  # (keys_S, state_S, world, round_R) -> (state_S, metrics [S, R, ...])
  evaluate: Callable  # (state_S, world) -> metrics [S, ...]


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
  """One key per seed of a sweep, split once from the root key."""
  return jax.random.split(jax.random.key(seed), num_seeds)


def make_sweep(experiment: experiment_lib.Experiment) -> Sweep:
  return Sweep(
      init=jax.jit(jax.vmap(experiment.init, in_axes=(0, None, None))),
      run_chunk=jax.jit(jax.vmap(experiment.run_rounds, in_axes=(0, 0, None, None)),
                        donate_argnums=1),
      evaluate=jax.jit(jax.vmap(experiment.evaluate, in_axes=(0, None))),
  )


def seed_sharding(num_seeds: int) -> NamedSharding:
  """Shards a leading seed axis over every device (the seeds must divide evenly)."""
  devices = np.asarray(jax.devices())
  if num_seeds % devices.size:
    raise ValueError(f'config.experiment.num_seeds ({num_seeds}) must be a multiple of the '
                     f'number of devices ({devices.size}) when shard_seeds is set')
  return NamedSharding(Mesh(devices, ('seeds',)), PartitionSpec('seeds'))


def shard(tree, sharding: NamedSharding | None):
  return tree if sharding is None else jax.device_put(tree, sharding)


def _save_checkpoint(path: str, payload) -> None:
  tmp = path + '.tmp'
  with open(tmp, 'wb') as f:
    f.write(flax.serialization.to_bytes(payload))
  os.replace(tmp, path)  # Atomic: a kill leaves the previous checkpoint whole.


def _load_checkpoint(path: str, target):
  with open(path, 'rb') as f:
    return flax.serialization.from_bytes(target, f.read())


def run_strategy(sweep: Sweep, keys_S: jax.Array, base_params, world, *, rounds: int,
                 rounds_per_chunk: int, checkpoint_path: str | None = None,
                 sharding: NamedSharding | None = None,
                 on_chunk: Callable[[int, dict, float], None] | None = None
                 ) -> dict[str, np.ndarray]:
  """Runs every seed for `rounds` rounds; returns metrics float[S, rounds + 1, ...].

  Index 0 of the round axis is the agent before any query (the pre-trained LM). If
  `checkpoint_path` holds a checkpoint, the sweep resumes from it.
  """
  keys_S = shard(keys_S, sharding)
  state = shard(sweep.init(keys_S, base_params, world), sharding)
  metrics = jax.tree_util.tree_map(
      lambda x: np.full((x.shape[0], rounds + 1) + x.shape[1:], np.nan, np.float32),
      jax.eval_shape(sweep.evaluate, state, world))
  done = 0
  if checkpoint_path and os.path.exists(checkpoint_path):
    saved = _load_checkpoint(checkpoint_path, {'done': 0, 'state': state, 'metrics': metrics})
    done, metrics = int(saved['done']), saved['metrics']
    state = shard(jax.tree_util.tree_map(jnp.asarray, saved['state']), sharding)
  else:
    for name, value in sweep.evaluate(state, world).items():
      metrics[name][:, 0] = np.asarray(value)
  while done < rounds:
    start = time.time()
    round_R = jnp.arange(done, done + rounds_per_chunk, dtype=jnp.int32)
    state, chunk = sweep.run_chunk(keys_S, state, world, round_R)
    for name, value in chunk.items():
      metrics[name][:, done + 1:done + 1 + rounds_per_chunk] = np.asarray(value)
    done += rounds_per_chunk
    if checkpoint_path:
      _save_checkpoint(checkpoint_path, {'done': done, 'state': state, 'metrics': metrics})
    if on_chunk:
      on_chunk(done, {k: v[:, done] for k, v in metrics.items()}, time.time() - start)
  return metrics
