"""The sweep compiles once, and chunking or resuming it does not change its results.

All on the tiny sweep of tests/tiny_sweep.py (4 seeds, 2 rounds in chunks of one round), which
test_sharding.py shares, so its chunk compiles once for the whole session.
"""

import numpy as np
import pytest

import tiny_sweep
from lmrl import sweep


def _assert_same(a: dict, b: dict, **tolerance):
  assert sorted(a) == sorted(b)
  for name in a:
    np.testing.assert_allclose(a[name], b[name], err_msg=name, **tolerance)


def test_run_chunk_compiles_once_across_chunks_seeds_and_hyperparameters():
  _, world, base_params, sweeper = tiny_sweep.setup()
  before = sweeper.run_chunk._cache_size()
  tiny_sweep.reference()  # Two chunks of one round (compiled here unless already cached).
  init_compiled, evaluate_compiled = sweeper.init._cache_size(), sweeper.evaluate._cache_size()
  compiled = sweeper.run_chunk._cache_size()
  assert compiled - before in (0, 1) and compiled >= 1

  round_R = np.arange(1, dtype=np.int32)
  # Other seeds' keys.
  keys_S = tiny_sweep.keys(seed=1)
  sweeper.run_chunk(keys_S, sweeper.init(keys_S, base_params, world), world, round_R)
  # Traced hyper-parameters, one value per seed (a sweep axis): learning rate and lambdas.
  keys_S = tiny_sweep.keys()
  base_state = sweeper.init(keys_S, base_params, world)
  _, base_metrics = sweeper.run_chunk(keys_S, base_state, world, round_R)
  state = sweeper.init(keys_S, base_params, world)
  agent = state.agent
  hyperparams = dict(agent.opt_state.hyperparams)
  lr_S = hyperparams['learning_rate']
  hyperparams['learning_rate'] = lr_S * np.asarray([1.0, 3.0, 10.0, 30.0], lr_S.dtype)
  agent = agent._replace(
      opt_state=agent.opt_state._replace(hyperparams=hyperparams),
      hparams=agent.hparams._replace(lambda_lm=agent.hparams.lambda_lm * 2,
                                     lambda_l2=agent.hparams.lambda_l2 * 0))
  _, metrics = sweeper.run_chunk(keys_S, state._replace(agent=agent), world, round_R)

  assert sweeper.run_chunk._cache_size() == compiled
  assert sweeper.init._cache_size() == init_compiled
  assert sweeper.evaluate._cache_size() == evaluate_compiled
  # The new hyper-parameters were used (traced, not baked in at the first compilation).
  kl, base_kl = np.asarray(metrics['kl'])[:, -1], np.asarray(base_metrics['kl'])[:, -1]
  assert np.all(kl[1:] != base_kl[1:])


def test_chunked_equals_unchunked():
  _, world, base_params, sweeper = tiny_sweep.setup()
  unchunked = sweep.run_strategy(sweeper, tiny_sweep.keys(), base_params, world,
                                 rounds=tiny_sweep.ROUNDS, rounds_per_chunk=tiny_sweep.ROUNDS)
  chunked = tiny_sweep.reference()
  assert np.all(np.isfinite(chunked['kl']))
  _assert_same(chunked, unchunked, rtol=1e-6, atol=1e-7)


class _Killed(Exception):
  pass


def test_resumed_sweep_equals_uninterrupted(tmp_path):
  path = str(tmp_path / 'sweep.msgpack')

  def kill_after_first_chunk(done, last, seconds):
    del last, seconds
    if done == 1:
      raise _Killed

  with pytest.raises(_Killed):
    tiny_sweep.run(checkpoint_path=path, on_chunk=kill_after_first_chunk)
  resumed_chunks = []
  resumed = tiny_sweep.run(checkpoint_path=path,
                           on_chunk=lambda done, last, seconds: resumed_chunks.append(done))
  assert resumed_chunks == [2]  # Only the second chunk ran again.
  _assert_same(resumed, tiny_sweep.reference(), rtol=0, atol=0)
