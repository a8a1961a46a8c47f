"""Traced hyper-parameters: one registry, one pytree in the run state, sweeps as lanes.

Every float that a learner or a strategy reads and that a sweep may vary is *traced*: it is
never baked into the compiled program. `TRACED` is its one registry (name -> the config field
that holds its value, and the check its values must pass); the run state carries one pytree
of them, `RunState.hparams` ({name: float32[]}, a leading lane axis in a sweep), and the agent
and the strategies read it from there each round (`Agent.learn(..., hparams)`,
`Agent.explorer(state, hparams)`, `StrategyParams.hparams`). Adding a traced value is one entry
in `TRACED` plus its use; its `config.sweep` field, its validation and its lanes follow.

`config.sweep.<name>` names values to try, e.g.

  python -m experiments.explore --config=default --workdir=runs/lr \
      "--config.sweep.learning_rate=(3e-4,1e-3,3e-3)" --config.experiment.num_seeds=4

and the run's grid is the Cartesian product of every non-empty `sweep` field (J points; one
point, the config's own values, when none is set). The sweep's leading axis then holds J x S
lanes, point-major: lane `j * S + s` is seed `s` (the same key for every point, so points are
compared on common random numbers) at grid point `j`. Every lane shares the one pre-trained LM.

Results name a grid point's runs `<strategy>[<label>]`, e.g. `passive[learning_rate=0.001]`
(`variant`), so curves, plots and the summary show one line per value, and each result row
carries the swept values as columns (`learning_rate`, ...). Summary ratios compare strategies
at the same grid point.
"""

import itertools
import math
from typing import NamedTuple

import ml_collections
import numpy as np


class Traced(NamedTuple):
  """A traced hyper-parameter: where its value lives in the config, and what it must be."""
  field: str  # The config field holding its value ('finetune.learning_rate').
  rule: str  # 'positive' or 'non_negative' (`lmrl.checks`), for the field and swept values.


# The one registry. Order is the sweep grid's order (first name slowest).
TRACED: dict[str, Traced] = {
    'learning_rate': Traced('finetune.learning_rate', 'positive'),  # Adam, joint / reward.
    'lambda_lm': Traced('finetune.lambda_lm', 'non_negative'),  # Next-token loss weight.
    'lambda_l2': Traced('finetune.lambda_l2', 'non_negative'),  # Anchor weight.
    'l2_prior_choices': Traced('finetune.l2_prior_choices', 'non_negative'),  # Anchor's n0.
    'prior_scale': Traced('agent.prior_scale', 'non_negative'),  # beta of the priors.
    'temperature': Traced('experiment.temperature', 'positive'),  # Boltzmann tau.
    'pool_temperature': Traced('experiment.pool_temperature', 'positive'),  # Infomax pool.
    'info_temperature': Traced('experiment.info_temperature', 'non_negative'),  # Infomax draw.
    'policy_learning_rate': Traced('classic.policy_learning_rate', 'positive'),  # Classic.
    'entropy_weight': Traced('classic.entropy_weight', 'non_negative'),  # Classic's alpha.
}

Hparams = dict  # {name: float32[]} for every name of `TRACED` (a pytree; lanes lead in a sweep).


def config_field(config, dotted: str):
  """`config.<dotted>` for a dotted field name ('seed', 'finetune.learning_rate')."""
  for name in dotted.split('.'):
    config = config[name]
  return config


def empty_sweep() -> ml_collections.ConfigDict:
  """`config.sweep`: one field per traced name, each `()` (not swept)."""
  return ml_collections.ConfigDict({name: () for name in TRACED})


class Grid(NamedTuple):
  """The grid points of a run: `points[j]` maps each swept name to its value at point j."""
  names: tuple[str, ...]  # The swept names, in `TRACED` order (empty: no sweep).
  points: tuple[dict[str, float], ...]  # J >= 1 points.

  @property
  def size(self) -> int:
    return len(self.points)

  def label(self, j: int) -> str:
    """'learning_rate=0.001,lambda_lm=0' for point j ('' without a sweep)."""
    return ','.join(f'{name}={self.points[j][name]:g}' for name in self.names)


def swept_values(config) -> dict[str, tuple]:
  """{name: values} of every non-empty `config.sweep` field, in `TRACED` order."""
  sweep = config.get('sweep') or {}
  return {name: tuple(sweep[name]) for name in TRACED if name in sweep and tuple(sweep[name])}


def grid_size(config) -> int:
  """`grid(config).size`, counted without listing the points (a sweep's product may be huge)."""
  return math.prod(len(v) for v in swept_values(config).values())


def grid(config) -> Grid:
  """The Cartesian product of the swept values (first name slowest)."""
  swept = swept_values(config)
  names = tuple(swept)
  points = tuple(dict(zip(names, (float(v) for v in combo)))
                 for combo in itertools.product(*swept.values()))
  return Grid(names, points)


def values(config, point: dict[str, float] | None = None) -> dict[str, float]:
  """Every traced name's value: the config's, unless `point` gives it."""
  point = point or {}
  return {name: float(point.get(name, config_field(config, t.field)))
          for name, t in TRACED.items()}


def as_arrays(values_by_name: dict[str, float]) -> Hparams:
  """The run state's pytree of `values(...)`: float32[] per name."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top  # (config checks need no JAX)
  return {name: jnp.asarray(v, jnp.float32) for name, v in values_by_name.items()}


def lane_values(config, num_seeds: int) -> dict[str, np.ndarray]:
  """{name: float32[J * S]}: lane `j * S + s` holds point j's value (seed s)."""
  g = grid(config)
  per_point = [values(config, p) for p in g.points]
  return {name: np.repeat(np.asarray([v[name] for v in per_point], np.float32), num_seeds)
          for name in TRACED}


def point_lanes(arrays: dict, j: int, num_seeds: int) -> dict:
  """Grid point j's lanes `j * S .. (j + 1) * S - 1` of every array (leading lane axis)."""
  return {name: value[j * num_seeds:(j + 1) * num_seeds] for name, value in arrays.items()}


def variant(strategy: str, label: str) -> str:
  """The name results give a strategy at a grid point: 'passive[learning_rate=0.001]'."""
  return f'{strategy}[{label}]' if label else strategy


def split_variant(name: str) -> tuple[str, str]:
  """('passive', '[learning_rate=0.001]') of a `variant` name; (name, '') of a plain one."""
  strategy, bracket, rest = name.partition('[')
  return strategy, bracket + rest
