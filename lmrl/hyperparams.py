"""Hyper-parameter sweeps: a grid of traced values, vmapped next to the seeds in one compilation.

The learning rate, the regularisers' weights, the prior scale and the strategies' temperatures
are never baked into the compiled program: they live in the run state (`RunState.hparams`, and
the agent's own state), so one program serves any value of them. `config.sweep.<name>` names
values to try, e.g.

  python -m lmrl.bin.explore --config=default --workdir=runs/lr \
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
from typing import NamedTuple

import numpy as np

# Sweepable name -> the config field whose value it replaces.
SWEEPABLE = {
    'learning_rate': 'finetune.learning_rate',
    'lambda_lm': 'finetune.lambda_lm',
    'lambda_l2': 'finetune.lambda_l2',
    'l2_prior_choices': 'finetune.l2_prior_choices',
    'prior_scale': 'agent.prior_scale',
    'temperature': 'experiment.temperature',
    'pool_temperature': 'experiment.pool_temperature',
    'info_temperature': 'experiment.info_temperature',
}


class Grid(NamedTuple):
  """The grid points of a run: `points[j]` maps each swept name to its value at point j."""
  names: tuple[str, ...]  # The swept names, in `SWEEPABLE` order (empty: no sweep).
  points: tuple[dict[str, float], ...]  # J >= 1 points.

  @property
  def size(self) -> int:
    return len(self.points)

  def label(self, j: int) -> str:
    """'learning_rate=0.001,lambda_lm=0' for point j ('' without a sweep)."""
    return ','.join(f'{name}={self.points[j][name]:g}' for name in self.names)


def _field(config, dotted: str):
  for name in dotted.split('.'):
    config = config[name]
  return config


def swept_values(config) -> dict[str, tuple]:
  """{name: values} of every non-empty `config.sweep` field, in `SWEEPABLE` order."""
  sweep = config.get('sweep') or {}
  return {name: tuple(sweep[name]) for name in SWEEPABLE if name in sweep and tuple(sweep[name])}


def grid(config) -> Grid:
  """The Cartesian product of the swept values (first name slowest)."""
  swept = swept_values(config)
  names = tuple(swept)
  points = tuple(dict(zip(names, (float(v) for v in combo)))
                 for combo in itertools.product(*swept.values()))
  return Grid(names, points)


def values(config, point: dict[str, float] | None = None) -> dict[str, float]:
  """Every sweepable name's value: the config's, unless `point` gives it."""
  point = point or {}
  return {name: float(point.get(name, _field(config, field)))
          for name, field in SWEEPABLE.items()}


def lane_values(config, num_seeds: int) -> dict[str, np.ndarray]:
  """{name: float32[J * S]}: lane `j * S + s` holds point j's value (seed s)."""
  g = grid(config)
  per_point = [values(config, p) for p in g.points]
  return {name: np.repeat(np.asarray([v[name] for v in per_point], np.float32), num_seeds)
          for name in SWEEPABLE}


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
