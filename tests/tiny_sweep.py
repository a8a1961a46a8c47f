"""The tiny sweep shared by test_sweep.py and test_sharding.py (not a test module).

One tiny world (lmrl/configs/tiny.py) with `NUM_SEEDS` seeds and a freshly initialised
LM (no pre-training: these tests compare sweeps with each other, not with targets). Everything is
built once per process, so the two test modules share compilations. Run as a script, it is the
sharded side of test_sharding.py:

  XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/tiny_sweep.py OUT.npz
"""

import functools
import sys

import jax
import numpy as np

from lmrl import lm as lm_lib
from lmrl import loop
from lmrl import pipeline
from lmrl import sweep
from lmrl.configs import tiny

NUM_SEEDS = 4
ROUNDS = 2  # Two chunks of one round (the chunk length every test reuses: one compilation).
STRATEGY = 'passive'


@functools.lru_cache(maxsize=None)
def setup():
  """(config, world, base LM params, Sweep) of the tiny config with NUM_SEEDS seeds."""
  config = tiny.get_config()
  config.experiment.num_seeds = NUM_SEEDS
  spec, lm_spec, world = pipeline.build_world(config)
  agent = pipeline.make_agent(config, spec, lm_spec)
  base_params = lm_lib.init_lm(jax.random.key(config.seed), lm_spec)
  sweeper = sweep.make_sweep(loop.make_experiment(config, spec, agent, (STRATEGY,)))
  return config, world, base_params, sweeper


def keys(seed: int = 0):
  return sweep.seed_keys(seed, NUM_SEEDS)


def run(*, rounds: int = ROUNDS, rounds_per_chunk: int = 1, sharding=None,
        **kwargs) -> dict[str, np.ndarray]:
  """`sweep.run_strategy`'s metrics of the shared sweep, seeds `keys(0)`."""
  _, world, base_params, sweeper = setup()
  lanes = sweep.make_lanes(keys(), base_params, world, sharding=sharding)
  return sweep.run_strategy(sweeper, lanes, rounds=rounds, rounds_per_chunk=rounds_per_chunk,
                            **kwargs)[0]


@functools.lru_cache(maxsize=None)
def reference() -> dict[str, np.ndarray]:
  """Unsharded metrics of the default run (computed once per process; do not mutate)."""
  return run()


def sharded_main(out_path: str) -> None:
  """Runs the default run with its seeds sharded over every device; saves metrics to .npz."""
  num_devices = len(jax.devices())
  assert num_devices == NUM_SEEDS, f'expected {NUM_SEEDS} forced host devices, got {num_devices}'
  try:
    sweep.seed_sharding(NUM_SEEDS - 1)
    raise AssertionError('seed_sharding accepted seeds that do not divide over the devices')
  except ValueError as error:
    assert 'num_seeds' in str(error), error
  sharding = sweep.seed_sharding(NUM_SEEDS)
  metrics = run(sharding=sharding)
  # The seed axis really is split (one seed per device) and stays split through a chunk.
  _, world, base_params, sweeper = setup()
  everywhere = sweep.replicated(sharding)
  lanes = sweep.make_lanes(keys(), base_params, world, sharding=sharding)
  keys_S, world = lanes.keys_S, lanes.world
  state = sweep.shard(sweeper.init(keys_S, lanes.base_params, world, None), sharding)
  state, chunk = sweeper.run_chunk(keys_S, state, world,
                                   sweep.shard(np.arange(1, dtype=np.int32), everywhere),
                                   sweep.shard(np.int32(0), everywhere))
  for leaf in jax.tree_util.tree_leaves((state, chunk)):
    assert leaf.sharding.is_equivalent_to(sharding, leaf.ndim), leaf.sharding
    assert {s.data.shape[0] for s in leaf.addressable_shards} == {NUM_SEEDS // num_devices}
  np.savez(out_path, **metrics)


if __name__ == '__main__':
  sharded_main(sys.argv[1])
