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

import jax
import numpy as np
import pytest

import conftest
import lmrl
from lmrl import hyperparams
from lmrl import plotting
from lmrl import rows as rows_lib
from lmrl import sweep
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
    tiny_run, tiny_lr_sweep):
  workdir, lines, summary = tiny_lr_sweep
  assert tiny.get_config().finetune.learning_rate == 1e-3  # The first point: the run's own.

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


# Two values of every traced name (neither the fixture config's), and what reads it in a lane.
SWEPT = {
    'learning_rate': (3e-3, 3e-2),  # The joint update.
    'lambda_lm': (0.0, 3.0),
    'lambda_l2': (0.0, 10.0),
    'l2_prior_choices': (0.0, 50.0),
    'prior_scale': (0.0, 2.0),  # The agent's init (and so its members).
    'temperature': (0.5, 4.0),  # Boltzmann.
    'pool_temperature': (0.5, 4.0),  # Infomax.
    'info_temperature': (0.0, 1.0),  # Infomax.
    'policy_learning_rate': (1e-2, 1e-1),  # The classic agent's only (tests/test_classic.py).
    'entropy_weight': (0.5, 2.0),
}
READ_BY = {'temperature': 'boltzmann', 'pool_temperature': 'infomax',
           'info_temperature': 'infomax', 'policy_learning_rate': None, 'entropy_weight': None}


def _lanes(name: str, num_seeds: int):
  """The lanes of a sweep of `name` over SWEPT[name] with `num_seeds` seeds, laid out as
  `lmrl.runner` lays them out (one world): keys `seed_keys(seed, S)` tiled over the points, traced values
  `lane_values` (point-major: lane j * S + s is seed s at point j)."""
  config = conftest.fixture_config()
  config.sweep[name] = SWEPT[name]
  grid = hyperparams.grid(config)
  keys_L = sweep.seed_keys(config.seed, num_seeds)[np.tile(np.arange(num_seeds), grid.size)]
  return config, grid, keys_L, hyperparams.lane_values(config, num_seeds)


@pytest.mark.parametrize('name', list(SWEPT))
def test_every_traced_value_reaches_its_own_lanes_and_what_reads_it(
    name, strategy_round, joint_agent, make_choice_buffer, world):
  """A sweep of one traced name over 2 values x 2 seeds: lane j * S + s of the run state (the
  sweep's init, `strategy_round`) holds point j's value of it and the config's of every other,
  and seed s's key at every point. What reads the value sees the lane's own: two lanes of the
  same seed at the two points differ in the joint update's result (2 steps of the shared
  `joint_agent` step from the lane's agent state with the lane's traced values) or in the shown
  responses of the strategy that reads it (boltzmann, infomax), and not otherwise (passive
  ignores the temperature; the classic agent's values leave the joint agent as it was)."""
  assert set(SWEPT) == set(hyperparams.TRACED)
  S = 2
  config, grid, keys_L, hparams_L = _lanes(name, S)
  assert grid.size == 2 and conftest.ROUND_LANES == grid.size * S
  for j in range(grid.size):  # Every array the runner splits by point: lanes j*S .. (j+1)*S-1.
    assert hyperparams.point_lanes(hparams_L, j, S)[name].tolist() == [
        pytest.approx(SWEPT[name][j])] * S
  state_L = strategy_round.init(keys_L, hparams_L)
  for lane in range(grid.size * S):
    j, s = divmod(lane, S)
    for other, value in hyperparams.values(config, grid.points[j]).items():
      np.testing.assert_allclose(state_L.hparams[other][lane], value, rtol=1e-6,
                                 err_msg=f'{other} in lane {lane}')
    # Seed s's key at every point: its held-out queries are the same, other seeds' differ.
    same_seed = jax.tree_util.tree_map(lambda x: np.array_equal(x[lane], x[s]),
                                       state_L.held_out)
    assert all(jax.tree_util.tree_leaves(same_seed))
  assert not np.array_equal(state_L.held_out.response_index_QxK[0],
                            state_L.held_out.response_index_QxK[1])
  np.testing.assert_allclose(state_L.agent.params.prior_scale,
                             hparams_L['prior_scale'], rtol=1e-6)

  def differs_across_points(out_L):
    """Per seed s: does lane (0, s) differ from lane (1, s)?"""
    leaves = jax.tree_util.tree_leaves(out_L)
    return [any(not np.array_equal(x[s], x[S + s]) for x in leaves) for s in range(S)]

  epi, _, step, _ = joint_agent('ensemble')
  buffer = make_choice_buffer(jax.random.key(0), world, conftest.SMALL_BUFFER, 2,
                              epi.num_members)
  learned_L, compiled = [], step._cache_size()
  for lane in range(grid.size * S):
    agent = jax.tree_util.tree_map(lambda x: x[lane], state_L.agent)
    hparams = {n: v[lane] for n, v in state_L.hparams.items()}
    for i in range(2):  # Two steps: the anchor's weight acts once the parameters moved.
      agent, _ = step(jax.random.key(i), agent, buffer, world, hparams)
    learned_L.append(agent.params.train)
  assert step._cache_size() == max(compiled, 1)  # The shared step's one program.
  learned_L = jax.tree_util.tree_map(lambda *x: np.stack(x), *learned_L)
  reads = READ_BY.get(name, 'update')
  assert differs_across_points(learned_L) == [reads == 'update'] * S, name
  strategies = conftest.ROUND_STRATEGIES
  for strategy in (reads,) if reads in strategies else ('passive',):
    buffer_L = strategy_round.round(jax.random.split(jax.random.key(1), S)[
        np.tile(np.arange(S), grid.size)], state_L, np.int32(strategies.index(strategy)))
    assert differs_across_points(buffer_L.responses_HxKxLy) == [
        reads in strategies or name == 'prior_scale'] * S, (name, strategy)
