"""Sweeping strategies over many seeds: vmapped, compiled once, chunked and resumable.

`make_sweep(experiment)` vmaps the experiment's pure functions over seeds and jits them; the
strategy is a traced argument, so one compilation serves every strategy of the experiment. The
rounds are run in chunks of equal length (one compilation serves them all, and every later
sweep of the same shapes: other seed keys, other values of traced hyper-parameters); after each
chunk the whole sweep state is checkpointed with orbax (`lmrl.checkpoints`), so a killed sweep
resumes from its last chunk and ends with the same results as an uninterrupted one (all
randomness is `fold_in(seed key, round)`). The sweep state is donated to each chunk, and the
host sees the device only between chunks (metrics and the checkpoint), never inside one.

With a `sharding` from `seed_sharding`, the seed axis of keys and states is laid across every
device of a 1-D `Mesh('seeds')` with a `NamedSharding`, and the world and the pre-trained
parameters are replicated on it; `jit` then runs each device's seeds where they live, with no
communication inside a chunk. The same code runs on one CPU (a mesh of one device), on every
device of one host, and, after `jax.distributed.initialize()`, on every device of every host:
`jax.devices()` is then global, each process feeds it the same host values (keys, world,
parameters), metrics and checkpoints are gathered to every process, and orbax writes the
checkpoint once (resuming reads it on every process, so the work directory must be shared).
"""

import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from lmrl import checkpoints
from lmrl import loop as loop_lib


class Sweep(NamedTuple):
  init: Callable  # (keys_S, base_params, world, hparams_S) -> RunState with leading lane axis
  run_chunk: Callable  # (keys_S, state_S, world, round_R, strategy) -> (state_S, metrics [S, R])
  evaluate: Callable  # (state_S, world) -> metrics [S, ...]


LANE_STREAM = 0x4C414E45  # fold_in constant: the lanes' keys of a many-world run, by world seed.


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
  """One key per seed of a sweep, split once from the root key."""
  return jax.random.split(jax.random.key(seed), num_seeds)


def world_seed_keys(seed: int, world_seeds_W, num_seeds: int) -> jax.Array:
  """Keys [W * num_seeds]: world w's `num_seeds` seeds (lanes w*S .. w*S + S - 1) split from
  `fold_in(fold_in(key(seed), LANE_STREAM), world_seeds_W[w])`, so a lane's key depends on its
  world's seed and its seed alone, not on the worlds run beside it."""
  root = jax.random.fold_in(jax.random.key(seed), LANE_STREAM)
  keys_WxS = jax.vmap(lambda w: jax.random.split(jax.random.fold_in(root, w), num_seeds))(
      jnp.asarray(world_seeds_W, jnp.uint32))
  return keys_WxS.reshape(-1)


def make_sweep(experiment: loop_lib.Experiment, per_lane_world: bool = False) -> Sweep:
  """The experiment vmapped over lanes and jitted. With `per_lane_world` every lane has its own
  world and pre-trained LM (a leading lane axis on both, `make_lanes(world_S=...)`); else one
  world and LM serve every lane."""
  w = 0 if per_lane_world else None
  return Sweep(
      init=jax.jit(jax.vmap(experiment.init, in_axes=(0, w, w, 0))),
      run_chunk=jax.jit(jax.vmap(experiment.run_rounds, in_axes=(0, 0, w, None, None)),
                        donate_argnums=1),
      evaluate=jax.jit(jax.vmap(experiment.evaluate, in_axes=(0, w))),
  )


def seed_sharding(num_seeds: int) -> NamedSharding:
  """Shards a leading seed axis over every device of every process (seeds must divide evenly)."""
  devices = np.asarray(jax.devices())
  if num_seeds % devices.size:
    raise ValueError(f'config.experiment.num_seeds ({num_seeds}) must be a multiple of the '
                     f'number of devices ({devices.size}) when shard_seeds is set')
  return NamedSharding(Mesh(devices, ('seeds',)), PartitionSpec('seeds'))


def replicated(sharding: NamedSharding) -> NamedSharding:
  """A copy on every device of `sharding`'s mesh."""
  return NamedSharding(sharding.mesh, PartitionSpec())


def _put(x, sharding: NamedSharding):
  if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
    # Typed keys travel as their uint32 data (the trailing key axis is not sharded).
    return jax.random.wrap_key_data(_put(jax.random.key_data(x), sharding),
                                    impl=jax.random.key_impl(x))
  if isinstance(x, jax.Array):
    if x.sharding.is_equivalent_to(sharding, x.ndim):
      return x
    if x.is_fully_addressable and jax.process_count() > 1:
      x = np.asarray(x)  # A host value (the same on every process) may go to any device.
  return jax.device_put(x, sharding)


def shard(tree, sharding: NamedSharding | None):
  """Lays every leaf of `tree` out with `sharding`; `None` leaves the tree where it is."""
  if sharding is None:
    return tree
  return jax.tree_util.tree_map(lambda x: _put(x, sharding), tree)


def to_host(x) -> np.ndarray:
  """The whole (global) value of `x` as a NumPy array, on every process."""
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    x = multihost_utils.process_allgather(x, tiled=True)
  return np.asarray(x)


class Lanes(NamedTuple):
  """What every lane of a sweep runs on, laid out once (`make_lanes`): keys and traced
  hyper-parameters per lane (sharded along the lane axis with `sharding`), and the pre-trained
  parameters and the world (replicated on every device of it; with `world_S`, each lane's own,
  sharded along the lane axis). Without a sharding, the values stay where they are."""
  keys_S: jax.Array  # One key per lane.
  hparams_S: dict | None  # {name: float32[S]} (`lmrl.hyperparams.lane_values`); None: config's.
  base_params: object  # The pre-trained LM's parameters ([S, ...] per lane with world_S).
  world: object  # The world's tables ([S, ...] per lane with world_S).
  sharding: NamedSharding | None  # The lane axis's layout (`seed_sharding`), or None.
  world_S: np.ndarray | None = None  # int[S]: each lane's world; None: one world for all.


def make_lanes(keys_S: jax.Array, base_params, world, hparams_S: dict | None = None,
               sharding: NamedSharding | None = None,
               world_S: np.ndarray | None = None) -> Lanes:
  """The `Lanes` of a sweep, every value laid out as it will be used.

  With `world_S` (int[S]), `base_params` and `world` hold W worlds' values (leading axis W) and
  lane s runs on world `world_S[s]`'s: they are gathered to a leading lane axis.
  """
  everywhere = None if sharding is None else replicated(sharding)
  if world_S is None:
    return Lanes(shard(keys_S, sharding), shard(hparams_S, sharding),
                 shard(base_params, everywhere), shard(world, everywhere), sharding)
  world_S = np.asarray(world_S, np.int32)
  per_lane = lambda tree: shard(jax.tree_util.tree_map(lambda x: x[world_S], tree), sharding)
  return Lanes(shard(keys_S, sharding), shard(hparams_S, sharding), per_lane(base_params),
               per_lane(world), sharding, world_S)


def _everywhere(lanes: Lanes, x):
  """`x` replicated on every device of the lanes' mesh (as it is without a sharding)."""
  return x if lanes.sharding is None else shard(x, replicated(lanes.sharding))


def compile_chunk(sweep: Sweep, lanes: Lanes, rounds_per_chunk: int) -> Sweep:
  """`sweep` with `run_chunk` compiled ahead of time (AOT) for these shapes and layouts.

  One compilation serves every strategy and chunk; time this call to know its cost. With the
  persistent compilation cache on, a later process loads the program instead of compiling it.
  """
  state = jax.eval_shape(sweep.init, lanes.keys_S, lanes.base_params, lanes.world,
                         lanes.hparams_S)
  if lanes.sharding is not None:
    state = jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=lanes.sharding), state)
  round_R = _everywhere(lanes, np.arange(rounds_per_chunk, dtype=np.int32))
  compiled = sweep.run_chunk.lower(lanes.keys_S, state, lanes.world, round_R,
                                   _everywhere(lanes, np.int32(0))).compile()
  return sweep._replace(run_chunk=compiled)


def run_strategy(sweep: Sweep, lanes: Lanes, *, rounds: int, rounds_per_chunk: int,
                 strategy: int = 0, checkpoint_dir: str | None = None,
                 on_chunk: Callable[[int, dict, float], None] | None = None,
                 log: Callable[[str], None] = print) -> tuple[dict[str, np.ndarray], object]:
  """Runs every lane for `rounds` rounds of strategy number `strategy`.

  Returns (metrics float[S, T+1, ...], the final sweep state, lanes leading: e.g. to export
  its choice buffers). The S lanes are seeds, or grid points x seeds of a hyper-parameter sweep
  (`lanes.hparams_S` gives each lane its traced hyper-parameters). Index 0 of the round axis
  is the agent before any query (the pre-trained LM). After each chunk the sweep state and the
  metrics so far are saved to `checkpoint_dir` (orbax, the last two kept); if it holds a
  checkpoint, the sweep resumes from the last readable one. `rounds_per_chunk` must divide
  `rounds` (every chunk has the same shape, so `run_chunk` compiles once). `on_chunk` gets
  (rounds done, the metrics so far [S, rounds + 1, ...] (NaN beyond), seconds of the chunk's
  computation, which exclude the checkpoint write), after the checkpoint is saved. `log` gets a
  line if the latest checkpoint cannot be read and an earlier one is used instead.
  """
  if rounds % rounds_per_chunk:
    raise ValueError(f'rounds_per_chunk ({rounds_per_chunk}) must divide rounds ({rounds})')
  keys_S, world = lanes.keys_S, lanes.world
  state = shard(sweep.init(keys_S, lanes.base_params, world, lanes.hparams_S),
                lanes.sharding)
  metrics = jax.tree_util.tree_map(
      lambda x: np.full((x.shape[0], rounds + 1) + x.shape[1:], np.nan, np.float32),
      jax.eval_shape(sweep.evaluate, state, world))
  done = 0
  saved = checkpoints.restore_progress(checkpoint_dir, {'state': state, 'metrics': metrics},
                                       log=log) if checkpoint_dir else None
  if saved is not None:
    done, tree = saved
    metrics = jax.tree_util.tree_map(np.array, tree['metrics'])  # Writable copies.
    state = jax.tree_util.tree_map(jnp.asarray, tree['state']) if lanes.sharding is None else (
        shard(tree['state'], lanes.sharding))
  else:
    for name, value in sweep.evaluate(state, world).items():
      metrics[name][:, 0] = to_host(value)
  strategy = _everywhere(lanes, np.int32(strategy))
  while done < rounds:
    start = time.perf_counter()
    round_R = np.arange(done, done + rounds_per_chunk, dtype=np.int32)
    state, chunk = sweep.run_chunk(keys_S, state, world, _everywhere(lanes, round_R), strategy)
    for name, value in chunk.items():  # The one host sync of a chunk.
      metrics[name][:, done + 1:done + 1 + rounds_per_chunk] = to_host(value)
    done += rounds_per_chunk
    seconds = time.perf_counter() - start
    if checkpoint_dir:
      checkpoints.save_progress(checkpoint_dir, done, {
          'state': jax.tree_util.tree_map(to_host, state), 'metrics': metrics})
    if on_chunk:
      on_chunk(done, metrics, seconds)
  return metrics, state
