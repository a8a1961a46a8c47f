"""Hyper-parameter sweeps: the grid, and a sweep over two learning rates run through `lmrl.run`.

The run has 2 learning rates x 1 seed: two lanes, the shapes of the session's tiny run (2 seeds,
the same strategies), so its one compilation comes from the persistent cache the suite shares,
and its point at the tiny config's learning rate is exactly that run's seed 0 (same key, same
program). (2 x 2 lanes also pass; they cost a compilation of their own, ~35 s of the suite, and
agree with the unswept run only to float rounding: a batch of four lanes rounds differently.)
"""

import json
import math
import os

import numpy as np

import conftest
import lmrl
from lmrl import hyperparams
from lmrl import plotting
from lmrl import rows as rows_lib
from lmrl.configs import tiny


def test_the_grid_is_the_product_of_the_swept_values_lane_major_by_point():
  config = tiny.get_config()
  assert hyperparams.grid(config).size == 1 and hyperparams.grid(config).label(0) == ''
  config.sweep.learning_rate = (1e-3, 1e-2)
  config.sweep.lambda_lm = (0.0, 1.0, 2.0)
  grid = hyperparams.grid(config)
  assert grid.names == ('learning_rate', 'lambda_lm') and grid.size == 6
  assert grid.label(1) == 'learning_rate=0.001,lambda_lm=1'
  lanes = hyperparams.lane_values(config, num_seeds=2)
  assert lanes['lambda_lm'].tolist() == [0, 0, 1, 1, 2, 2] * 2
  np.testing.assert_allclose(lanes['learning_rate'], [1e-3] * 6 + [1e-2] * 6)
  assert set(lanes['temperature'].tolist()) == {config.experiment.temperature}  # Not swept.
  name = hyperparams.variant('infomax', grid.label(4))
  assert hyperparams.split_variant(name) == ('infomax', '[learning_rate=0.01,lambda_lm=1]')
  assert hyperparams.split_variant('infomax') == ('infomax', '')


def test_a_learning_rate_sweep_compiles_once_and_its_rows_carry_the_learning_rate(
    tiny_run, tmp_path):
  config = tiny.get_config()
  config.experiment.strategies = conftest.TINY_RUN_STRATEGIES
  config.experiment.num_seeds = 1
  config.sweep.learning_rate = (1e-3, 1e-2)  # 1e-3 is the tiny config's own value.
  assert config.finetune.learning_rate == 1e-3
  workdir = str(tmp_path / 'lr')
  lines = []
  summary = lmrl.run(config, workdir, log=lines.append)

  assert sum('compiling the sweep' in line for line in lines) == 1  # Both values, one program.
  assert any('x 2 hyper-parameter points (learning_rate)' in line for line in lines)
  names = {f'{s}[learning_rate={lr}]' for s in conftest.TINY_RUN_STRATEGIES
           for lr in ('0.001', '0.01')}
  assert set(summary['joint']) == names
  # Ratios compare strategies at the same grid point.
  assert 'close_50_vs_passive' in summary['joint']['infomax[learning_rate=0.01]']

  rows = rows_lib.read_rows(os.path.join(workdir, 'results.csv'))
  assert {(r['strategy'], r['learning_rate']) for r in rows} == {
      (f'{s}[learning_rate={lr:g}]', lr) for s in conftest.TINY_RUN_STRATEGIES
      for lr in (1e-3, 1e-2)}
  kl = lambda rows, name: np.asarray([r['kl'] for r in rows
                                      if r['strategy'] == name and r['seed'] == 0])
  # The point at the config's own learning rate is the unswept run's seed 0, exactly.
  unswept = rows_lib.read_rows(os.path.join(tiny_run, 'results.csv'))
  for strategy in conftest.TINY_RUN_STRATEGIES:
    np.testing.assert_array_equal(kl(rows, f'{strategy}[learning_rate=0.001]'),
                                  kl(unswept, strategy))
  assert np.max(np.abs(kl(rows, 'passive[learning_rate=0.01]') - kl(unswept, 'passive'))) > 1e-3
  # Live metrics and plots: one curve per value.
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    live = [json.loads(line) for line in f]
  assert {(o['strategy'], o['learning_rate']) for o in live} == {
      (r['strategy'], r['learning_rate']) for r in rows}
  assert os.path.exists(os.path.join(workdir, 'kl_vs_queries.png'))
  labels = [line.get_label() for line in plotting.plot_metric(rows, 'kl', 'KL').axes[0].lines]
  assert sorted(labels) == sorted(names)
  assert all(math.isfinite(r['kl']) for r in rows)


def test_every_traced_value_has_one_home_its_sweep_field_and_its_rule():
  """`hyperparams.TRACED` is the one registry: the config's sweep section, the checks and the
  run state's pytree follow from it (adding a traced value is one entry plus its use)."""
  from lmrl import checks  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  assert set(config.sweep) == set(hyperparams.TRACED)
  for name, traced in hyperparams.TRACED.items():
    assert hyperparams.config_field(config, traced.field) == hyperparams.values(config)[name]
    bad = tiny.get_config()
    bad.sweep[name] = (-1.0,)  # Negative: refused by both rules.
    try:
      checks.validate(bad)
      raise AssertionError(f'sweep.{name}=(-1,) was accepted')
    except ValueError as error:
      assert f'config.sweep.{name}' in str(error)
  assert set(hyperparams.lane_values(config, 2)) == set(hyperparams.TRACED)
