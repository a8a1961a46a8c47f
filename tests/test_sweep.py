"""The sweep compiles once, chunking or resuming it does not change its results, and a seed
whose numbers turn NaN is reported and left out while the others carry on.

All on the tiny sweep of tests/tiny_sweep.py (4 seeds, 2 rounds in chunks of one round), which
test_sharding.py shares, so its chunk compiles once for the whole session.
"""

import json

import numpy as np
import pytest

import tiny_sweep
from lmrl import files
from lmrl import rows as rows_lib
from lmrl import summary as summary_lib
from lmrl import sweep

STRATEGY = np.int32(0)  # The index of tiny_sweep.STRATEGY (an int32, as run_strategy passes it).


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
  sweeper.run_chunk(keys_S, sweeper.init(keys_S, base_params, world, None), world, round_R, STRATEGY)
  # Traced hyper-parameters, one value per seed (a sweep axis): learning rate and lambdas.
  keys_S = tiny_sweep.keys()
  base_state = sweeper.init(keys_S, base_params, world, None)
  _, base_metrics = sweeper.run_chunk(keys_S, base_state, world, round_R, STRATEGY)
  state = sweeper.init(keys_S, base_params, world, None)
  hparams = dict(state.hparams)  # Their one home: the run state.
  lr_S = hparams['learning_rate']
  hparams['learning_rate'] = lr_S * np.asarray([1.0, 3.0, 10.0, 30.0], lr_S.dtype)
  hparams['lambda_lm'] = hparams['lambda_lm'] * 2
  hparams['lambda_l2'] = hparams['lambda_l2'] * 0
  _, metrics = sweeper.run_chunk(keys_S, state._replace(hparams=hparams), world, round_R,
                                 STRATEGY)

  assert sweeper.run_chunk._cache_size() == compiled
  assert sweeper.init._cache_size() == init_compiled
  assert sweeper.evaluate._cache_size() == evaluate_compiled
  # The new hyper-parameters were used (traced, not baked in at the first compilation).
  kl, base_kl = np.asarray(metrics['kl'])[:, -1], np.asarray(base_metrics['kl'])[:, -1]
  assert np.all(kl[1:] != base_kl[1:])


@pytest.mark.slow  # ~15-20 s (a second compilation of the whole run at another chunk length).
def test_chunked_equals_unchunked():
  _, world, base_params, sweeper = tiny_sweep.setup()
  lanes = sweep.make_lanes(tiny_sweep.keys(), base_params, world)
  unchunked, _ = sweep.run_strategy(sweeper, lanes, rounds=tiny_sweep.ROUNDS,
                                    rounds_per_chunk=tiny_sweep.ROUNDS)
  chunked = tiny_sweep.reference()
  assert np.all(np.isfinite(chunked['kl']))
  _assert_same(chunked, unchunked, rtol=1e-6, atol=1e-7)


class _Killed(Exception):
  pass


def test_resumed_sweep_equals_uninterrupted(tmp_path):
  path = str(tmp_path / 'checkpoints')

  def kill_after_first_chunk(done, last, seconds):
    del last, seconds
    if done == 1:
      raise _Killed

  with pytest.raises(_Killed):
    tiny_sweep.run(checkpoint_dir=path, on_chunk=kill_after_first_chunk)
  resumed_chunks = []
  resumed = tiny_sweep.run(checkpoint_dir=path,
                           on_chunk=lambda done, last, seconds: resumed_chunks.append(done))
  assert resumed_chunks == [2]  # Only the second chunk ran again.
  _assert_same(resumed, tiny_sweep.reference(), rtol=0, atol=0)


def test_a_nan_in_one_seed_is_reported_and_excluded_not_averaged(tmp_path):
  config, world, base_params, sweeper = tiny_sweep.setup()
  keys_S = tiny_sweep.keys()
  round_R = np.arange(1, dtype=np.int32)
  state = sweeper.init(keys_S, base_params, world, None)
  _, healthy = sweeper.run_chunk(keys_S, state, world, round_R, STRATEGY)
  # Seed 2's (traced) learning rate is NaN: its parameters, loss and metrics turn NaN.
  state = sweeper.init(keys_S, base_params, world, None)
  hparams = dict(state.hparams)
  hparams['learning_rate'] = hparams['learning_rate'].at[2].set(np.nan)
  state = state._replace(hparams=hparams)
  state, faulty = sweeper.run_chunk(keys_S, state, world, round_R, STRATEGY)
  np.testing.assert_array_equal(np.asarray(state.failed), [False, False, True, False])
  np.testing.assert_array_equal(np.asarray(faulty['failed'])[:, -1], [0, 0, 1, 0])
  assert np.isnan(np.asarray(faulty['kl'])[2, -1])
  ok = [0, 1, 3]  # The other seeds carry on as if nothing happened.
  np.testing.assert_allclose(np.asarray(faulty['kl'])[ok], np.asarray(healthy['kl'])[ok],
                             rtol=1e-6)

  # Results mark the seed as failed; the summary lists it and averages only the others.
  # (Rounds 0 and 1 of the rows: the healthy chunk stands in for round 0, the faulty for 1.)
  out = {name: np.concatenate([np.asarray(healthy[name]), np.asarray(value)], axis=1)
         for name, value in faulty.items()}
  rows = rows_lib.metric_rows('joint', 'passive', out, np.zeros(2), 4, [0, 1])
  assert {r['seed'] for r in rows if r['failed']} == {2}
  curves = {('joint', 'passive'): summary_lib.curves_from_metrics(out, 4, [0, 1])}
  summarize = lambda c: summary_lib.summarize(c, pretrained_kl=1.0, target_coverage_G=np.ones(2),
                                              num_bootstrap=10)
  summary = summarize(curves)['joint']['passive']
  assert summary['failed_seeds'] == [2]
  assert summary['num_seeds'] == 4 and summary['num_seeds_used'] == 3
  np.testing.assert_allclose(summary['final_kl']['mean'], np.asarray(faulty['kl'])[ok, -1].mean(),
                             rtol=1e-6)
  assert np.isfinite(summary['final_kl']['se'])
  # A strategy whose every seed failed has no mean at all: strict JSON, never NaN.
  all_failed = {k: c._replace(failed_S=np.ones_like(c.failed_S)) for k, c in curves.items()}
  path = str(tmp_path / 'summary.json')
  files.write_json(path, summarize(all_failed))
  with open(path) as f:
    text = f.read()
  assert 'NaN' not in text
  assert 'final_kl' not in json.loads(text)['joint']['passive']


def test_a_lanes_key_depends_on_its_world_seed_and_seed_not_on_the_worlds_beside_it():
  """`pipeline.lane_keys`: with one world the sweep's seed keys (the default world's runs keep
  their numbers); with W worlds, world w's seeds are those any run over world seed `w` gives."""
  import jax  # pylint: disable=g-import-not-at-top
  from lmrl import pipeline  # pylint: disable=g-import-not-at-top
  from lmrl.configs import tiny  # pylint: disable=g-import-not-at-top
  data = jax.random.key_data
  config = tiny.get_config()
  config.experiment.num_seeds = 2
  np.testing.assert_array_equal(data(pipeline.lane_keys(config)), data(sweep.seed_keys(0, 2)))
  config.world.num_worlds = 4
  whole = data(pipeline.lane_keys(config))
  config.world.seed, config.world.num_worlds = 2, 3  # Worlds 2, 3, 4.
  part = data(pipeline.lane_keys(config))
  assert whole.shape[0] == 8 and part.shape[0] == 6
  np.testing.assert_array_equal(whole[4:], part[:4])  # Worlds 2 and 3, two seeds each.
  assert len({tuple(k) for k in np.concatenate([whole, part])}) == 10  # Else all distinct.
