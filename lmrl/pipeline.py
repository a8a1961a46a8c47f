"""From a config to the pieces of an experiment: the world, the pre-trained LM, the agent.

What the binaries in `experiments/` share, and what a notebook calls to get going:

  spec, lm_spec, world = lmrl.pipeline.build_world(config)
  params, report = lmrl.pipeline.pretrained_lm(config, spec, lm_spec, world, workdir)
  agent = lmrl.pipeline.make_agent(config, spec, lm_spec)

`lmrl.run(config, workdir)` (`lmrl.runner`) does all of it and runs the whole experiment.
"""

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import agent as agent_lib
from lmrl import checkpoints
from lmrl import files
from lmrl import lm as lm_lib
from lmrl import loop
from lmrl import pretrained_cache
from lmrl import pretraining
from lmrl import registry
from lmrl import sweep as sweep_lib
from lmrl import workdir as workdir_lib
from lmrl import world as world_lib


def build_specs(config) -> tuple[world_lib.WorldSpec, lm_lib.LMSpec]:
  """(WorldSpec, LMSpec) of `config.world` / `config.lm`: static shapes, nothing computed."""
  spec = world_lib.spec_from_config(config.world)
  return spec, lm_lib.lm_spec_from_config(config.lm, spec)


def make_world(config, spec: world_lib.WorldSpec) -> world_lib.World:
  """The world of `config.world`, drawn from `key(world.seed)`; with `world.num_worlds` = W > 1,
  W worlds drawn from `key(world.seed + w)` (w = 0 .. W-1: world 0 is the one-world run's), every
  table with a leading axis W (one vmapped computation)."""
  W = config.world.num_worlds
  if W == 1:
    return world_lib.make_world(jax.random.key(config.world.seed), spec)
  keys_W = jax.vmap(jax.random.key)(config.world.seed + jnp.arange(W))
  return jax.vmap(world_lib.make_world, in_axes=(0, None))(keys_W, spec)


def world_lanes(config, num_lanes: int) -> np.ndarray | None:
  """int[lanes]: each lane's world within a grid point (lanes `w*S .. w*S + S - 1` are world w's
  `S = experiment.num_seeds` seeds), repeated for every grid point; None with one world."""
  W, S = config.world.num_worlds, config.experiment.num_seeds
  if W == 1:
    return None
  return np.tile(np.repeat(np.arange(W), S), num_lanes // (W * S))


def lane_keys(config) -> jax.Array:
  """One key per lane of a grid point: `experiment.num_seeds` seeds from `key(seed)` with one
  world (`sweep.seed_keys`); with W = `world.num_worlds` > 1, world w's seeds from its world seed
  `world.seed + w` (`sweep.world_seed_keys`), so a run over worlds 4..7 (`world.seed` 4,
  `num_worlds` 4) gives those worlds the lanes a run over 0..7 gives them (a study too long for
  one sitting runs its worlds in parts, each of >= 2 worlds; `experiments.combine` joins them)."""
  W, S = config.world.num_worlds, config.experiment.num_seeds
  if W == 1:
    return sweep_lib.seed_keys(config.seed, S)
  return sweep_lib.world_seed_keys(config.seed, config.world.seed + np.arange(W), S)


def build_world(config):
  """(WorldSpec, LMSpec, World) of `config.world` / `config.lm`; the world from `world.seed`."""
  spec, lm_spec = build_specs(config)
  return spec, lm_spec, make_world(config, spec)


def pretrained_lm(config, spec, lm_spec, world, workdir: str | None = None, log=print,
                  cache_dir: str | None = None):
  """The pre-trained LM's parameters and its report (KL to the majority and to p*).

  With a `workdir`, parameters are saved to `workdir/pretrained` (orbax) and its report to
  `workdir/pretrain.json`; if they are already there they are loaded instead of re-trained.
  With a `cache_dir`, an LM pre-trained for the same seed, world, LM and pre-training config by
  the same code (`lmrl.pretrained_cache`) in any earlier run is loaded from `cache_dir/<key>`
  instead of pre-training it again (other strategies, agents or hyper-parameters share it), and
  a newly pre-trained LM is added there with its manifest.
  """
  eval_index_P = loop.eval_prompt_index(config, spec)
  ckpt = os.path.join(workdir, 'pretrained') if workdir else None
  inputs = pretrained_cache.inputs(config)
  cached = os.path.join(cache_dir, pretrained_cache.key(config)) if cache_dir else None
  W = config.world.num_worlds
  like = lambda: jax.tree_util.tree_map(  # Shapes to restore into (W LMs with W worlds).
      lambda x: x if W == 1 else jnp.broadcast_to(x, (W,) + x.shape),
      lm_lib.init_lm(jax.random.key(0), lm_spec))
  params = None
  if ckpt and os.path.exists(ckpt):
    params = checkpoints.load_params(ckpt, like())
    log(f'loaded the pre-trained LM from {ckpt}')
  elif cached and os.path.exists(cached):
    params = pretrained_cache.load(cached, inputs, like(), log)
    if params is not None:
      log(f'loaded the pre-trained LM from the cache {cached} (same seed, world, LM and '
          'pre-training config, same code)')
      if ckpt and workdir_lib.is_writer():
        checkpoints.save_params(ckpt, params)
  if params is None:
    log(f'pre-training the LM ({config.pretrain.steps} steps of {config.pretrain.batch_size} '
        'corpus sequences) ...')
    started = time.perf_counter()
    params, losses = pretraining.pretrain_from_config(config, world, spec, lm_spec)
    first, last = float(losses[..., 0].mean()), float(losses[..., -1].mean())
    log(f'pre-trained for {config.pretrain.steps} steps: next-token loss {first:.3f} -> '
        f'{last:.3f}{" (mean over worlds)" if W > 1 else ""} '
        f'({time.perf_counter() - started:.1f}s, compilation included)')
    if ckpt:
      checkpoints.save_params(ckpt, params)
    if cached and workdir_lib.is_writer():
      pretrained_cache.save(cached, inputs, params)
  if config.world.num_worlds > 1:
    report = pretraining.report_worlds(params, world, spec, lm_spec, eval_index_P)
  else:
    report = pretraining.report(params, world, spec, lm_spec, eval_index_P)
  if workdir and workdir_lib.is_writer():
    files.write_json(os.path.join(workdir, 'pretrain.json'), report)
  return params, report


def make_agent(config, spec, lm_spec, kind: str | None = None) -> agent_lib.Agent:
  """The agent `kind` (a name of `registry.AGENT_KINDS`; default `config.agent.kind`)."""
  kind = kind or config.agent.kind
  if kind not in registry.AGENT_KINDS:
    raise ValueError(f'an agent kind must be one of {tuple(registry.AGENT_KINDS)}, got {kind!r}')
  return registry.AGENT_KINDS[kind](config, spec, lm_spec)
