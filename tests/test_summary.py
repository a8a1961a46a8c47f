"""The array summary: choices to close the KL gap match the analytic crossing, ratios and their
intervals are finite or None with words, failed seeds are left out, and the result is strict JSON
and deterministic. Pure NumPy on synthetic curves."""

import csv
import json
import math
import os

import numpy as np
import pytest

from lmrl import summary as summary_lib

PRETRAINED_KL = 2.0
QUERIES_R = np.arange(0.0, 1300.0, 20.0)  # 65 evaluated rounds, 20 choices apart; budget 1280.
TARGET_COVERAGE_G = np.array([0.5, 0.3, 0.2])


def _curves(tau_S, queries_R=QUERIES_R, coverage_G=(0.5, 0.3, 0.2), failed_S=None
            ) -> summary_lib.Curves:
  """KL decaying as PRETRAINED_KL * exp(-queries / tau) per seed; constant coverage."""
  tau_S = np.asarray(tau_S, dtype=float)
  kl_SxR = PRETRAINED_KL * np.exp(-queries_R[None, :] / tau_S[:, None])
  coverage_SxRxG = np.broadcast_to(np.asarray(coverage_G, dtype=float),
                                   kl_SxR.shape + (len(coverage_G),)).copy()
  failed_S = np.zeros(tau_S.shape, bool) if failed_S is None else np.asarray(failed_S)
  return summary_lib.Curves(queries_R, kl_SxR, coverage_SxRxG, failed_S)


def _summarize(curves, **kwargs) -> dict:
  summary = summary_lib.summarize(curves, pretrained_kl=PRETRAINED_KL,
                                  target_coverage_G=TARGET_COVERAGE_G, num_bootstrap=200, **kwargs)
  json.dumps(summary, allow_nan=False)  # Strict JSON, always.
  return summary


def _interpolated_crossing(queries_R, kl_R, target):
  """Linear interpolation between the two evaluated rounds around the crossing, by hand."""
  i = int(np.argmax(kl_R <= target))
  t = (kl_R[i - 1] - target) / (kl_R[i - 1] - kl_R[i])
  return queries_R[i - 1] + t * (queries_R[i] - queries_R[i - 1])


def _walk(value):
  """Every leaf of a nested dict/list."""
  if isinstance(value, dict):
    for v in value.values():
      yield from _walk(v)
  elif isinstance(value, list):
    for v in value:
      yield from _walk(v)
  else:
    yield value


def test_close_matches_analytic_crossing_and_ratio():
  tau = 200.0
  summary = _summarize({('joint', 'infomax'): _curves([tau] * 3),
                        ('joint', 'passive'): _curves([2 * tau] * 3)})
  entry = summary['joint']['infomax']
  kl_R = PRETRAINED_KL * np.exp(-QUERIES_R / tau)
  expected = _interpolated_crossing(QUERIES_R, kl_R, 0.5 * PRETRAINED_KL)
  assert abs(expected - tau * math.log(2)) < 2.0  # Interpolation is close to the exact crossing.
  close = entry['close_50']
  assert close['reached'] and close['reached_fraction'] == 1.0
  np.testing.assert_allclose(close['choices'], expected, rtol=0, atol=1e-6)
  np.testing.assert_allclose(close['target_kl'], 0.5 * PRETRAINED_KL)
  # Identical seeds: every interval collapses onto its estimate.
  np.testing.assert_allclose(close['ci90'], [expected] * 2, atol=1e-6)
  np.testing.assert_allclose(entry['final_kl']['ci90'], [entry['final_kl']['mean']] * 2)
  assert entry['final_kl']['se'] == 0.0
  for f in (50, 80, 90):
    versus = entry[f'close_{f}_vs_passive']
    np.testing.assert_allclose(versus['ratio'], 2.0, rtol=1e-2)
    np.testing.assert_allclose(versus['ci90'], [versus['ratio']] * 2)
    assert versus['defined_fraction'] == 1.0 and versus['lower_bound'] is None
  # Passive is compared with nothing (no other baseline is present); only baselines present count.
  assert not any('_vs_' in k for k in summary['joint']['passive'])
  assert not any(k.endswith(('_vs_uniform', '_vs_boltzmann')) for k in entry)
  assert entry['final_queries'] == 1280.0


@pytest.mark.parametrize('num_seeds', [2, 4, 8])
def test_intervals_finite_or_none_with_text(num_seeds):
  rng = np.random.default_rng(num_seeds)
  summary = _summarize({
      ('joint', 'infomax'): _curves(rng.uniform(150, 300, num_seeds)),
      ('joint', 'passive'): _curves(rng.uniform(300, 900, num_seeds)),  # Noisy near its budget.
      ('joint', 'uniform'): _curves(rng.uniform(250, 500, num_seeds))})
  for strategy, entry in summary['joint'].items():
    assert entry['num_seeds_used'] == num_seeds and entry['failed_seeds'] == []
    assert all(v is None or isinstance(v, (str, bool, int)) or math.isfinite(v)
               for v in _walk(entry))
    lo, hi = entry['final_kl']['ci90']
    assert lo <= entry['final_kl']['mean'] <= hi and entry['final_kl']['se'] > 0
    for key, value in entry.items():
      if key.startswith('close_'):
        assert isinstance(value['text'], str) and value['text']
        if None in value['ci90']:  # An unbounded interval is said in words.
          assert any(words in value['text']
                     for words in ('not reached', 'did not reach', 'unbounded'))
    assert entry['auc_log_kl']['ci90'][0] <= entry['auc_log_kl']['mean']
  # The fastest strategy needs fewer choices than the slowest at every fraction.
  assert summary['joint']['infomax']['close_50_vs_passive']['ratio'] > 1.0


def test_unreached_baseline_gives_lower_bound_and_unreached_strategy_says_so():
  summary = _summarize({('joint', 'infomax'): _curves([100.0, 120.0]),
                        ('joint', 'uniform'): _curves([1e5, 1e5]),  # Barely moves.
                        ('joint', 'passive'): _curves([150.0, 160.0])})
  entry = summary['joint']['infomax']
  versus = entry['close_80_vs_uniform']
  assert versus['ratio'] is None
  np.testing.assert_allclose(versus['lower_bound'], 1280.0 / entry['close_80']['choices'])
  assert 'did not reach' in versus['text'] and versus['text'].startswith('>= ')
  assert versus['ci90'][1] is None  # Every resample of uniform is unreached: unbounded above.
  uniform = summary['joint']['uniform']
  close = uniform['close_80']
  assert close['choices'] is None and not close['reached'] and close['ci90'] == [None, None]
  assert close['text'].startswith('not reached within 1280 choices')
  assert close['reached_fraction'] == 0.0
  assert uniform['close_80_vs_passive']['ratio'] is None
  assert uniform['close_80_vs_passive']['text'] == 'not reached'
  assert uniform['close_80_vs_passive']['ci90'][0] == 0.0  # Unreached strategy: ratio 0.


def test_partly_reached_interval_is_none_with_words():
  # One seed of two reaches 90% of the gap, so does their mean, but a resample of the slow seed
  # alone does not: the upper bound is None and the text says how often it was reached.
  summary = _summarize({('joint', 'infomax'): _curves([100.0, 700.0])})
  close = summary['joint']['infomax']['close_90']
  assert close['reached'] and close['ci90'][1] is None and 0 < close['reached_fraction'] < 1
  assert 'not reached' in close['text'] and 'of resamples' in close['text']


def test_ratio_says_how_often_this_strategy_was_unreached():
  # Infomax's mean reaches 90% of the gap (one fast, one slow seed) but a resample of the slow
  # seed alone does not; the baseline always does: those resamples count as ratio 0, in words.
  summary = _summarize({('joint', 'infomax'): _curves([100.0, 700.0]),
                        ('joint', 'passive'): _curves([250.0, 250.0])})
  versus = summary['joint']['infomax']['close_90_vs_passive']
  assert versus['ratio'] > 0 and versus['ci90'][0] == 0.0
  assert 'this strategy unreached, counted as 0, in ' in versus['text'], versus['text']


@pytest.mark.parametrize('how', ['nan_kl', 'flag'])
def test_failed_seed_is_listed_and_excluded(how):
  """A failed seed's values never enter a statistic (they may be anything), and the strategy
  stays paired with the others: its resamples are theirs, less the failed seed."""
  taus = [150.0, 220.0, 180.0, 260.0]
  good = _curves(taus)

  def with_failed(garbage):
    kl_SxR, failed_S = good.kl_SxR.copy(), good.failed_S.copy()
    kl_SxR[1] = garbage
    if how == 'nan_kl':
      kl_SxR[1, 10] = np.nan
    else:
      failed_S[1] = True
    return _summarize({('joint', 'infomax'): good._replace(kl_SxR=kl_SxR, failed_S=failed_S),
                       ('joint', 'passive'): _curves([400.0, 500.0, 450.0, 420.0])})

  entry = with_failed(0.0)['joint']['infomax']
  assert entry == with_failed(1e3)['joint']['infomax']  # The failed seed's values do not matter.
  assert entry['failed_seeds'] == [1] and entry['num_seeds'] == 4
  assert entry['num_seeds_used'] == 3 and entry['final_kl']['num_seeds'] == 3
  np.testing.assert_allclose(entry['final_kl']['mean'],
                             np.asarray(good.kl_SxR)[[0, 2, 3], -1].mean(), rtol=1e-12)
  assert entry['close_50_vs_passive']['paired']


def test_every_seed_failed_has_only_the_failure_fields():
  curves = _curves([100.0, 200.0])
  summary = _summarize({('joint', 'passive'): curves._replace(failed_S=np.array([True, True])),
                        ('joint', 'infomax'): _curves([100.0, 200.0])})
  assert summary['joint']['passive'] == {'num_seeds': 2, 'num_seeds_used': 0,
                                         'failed_seeds': [0, 1], 'note': 'every seed failed'}
  versus = summary['joint']['infomax']['close_50_vs_passive']
  assert versus['ratio'] is None and 'every seed of passive failed' in versus['text']
  lines = summary_lib.format_summary(summary)
  assert len(lines) == 2 and any('every seed failed' in line for line in lines)


def test_worst_group_coverage_is_the_smallest_ratio():
  summary = _summarize({('joint', 'infomax'): _curves([200.0, 300.0],
                                                      coverage_G=(0.45, 0.15, 0.3))})
  worst = summary['joint']['infomax']['worst_group_coverage']
  np.testing.assert_allclose(worst['per_group_ratio'], [0.9, 0.5, 1.5])
  assert worst['worst_group'] == 1
  np.testing.assert_allclose(worst['ratio'], 0.5)
  np.testing.assert_allclose(worst['ci90'], [0.5, 0.5])


def test_auc_log_kl_is_mean_log_kl_over_the_budget():
  tau = 200.0
  entry = _summarize({('joint', 'infomax'): _curves([tau])})['joint']['infomax']
  # log KL is linear in choices, so the trapezoid is exact: mean of its ends.
  expected = math.log(PRETRAINED_KL) - 0.5 * QUERIES_R[-1] / tau
  np.testing.assert_allclose(entry['auc_log_kl']['mean'], expected, rtol=1e-9)
  assert entry['auc_log_kl']['se'] == 0.0


def test_deterministic_and_format_summary():
  def run():
    rng = np.random.default_rng(0)
    return _summarize({(agent, strategy): _curves(rng.uniform(100, 800, 4))
                       for agent in ('joint', 'classic')
                       for strategy in ('infomax', 'passive', 'uniform', 'boltzmann')}, seed=3)
  first, second = run(), run()
  assert first == second
  assert json.dumps(first, allow_nan=False) == json.dumps(second, allow_nan=False)
  assert first != _summarize({k: v for k, v in zip(
      [(a, s) for a in ('joint', 'classic') for s in ('infomax', 'passive', 'uniform',
                                                       'boltzmann')],
      [_curves(np.random.default_rng(0).uniform(100, 800, 4))] * 8)}, seed=4)
  lines = summary_lib.format_summary(first)
  assert len(lines) == 8
  infomax = next(line for line in lines if line.startswith('joint/infomax:'))
  for part in ('final KL', '±', 'close_50:', 'close_80:', 'vs passive at 80%:',
               'vs uniform at 80%:', 'worst-group coverage'):
    assert part in infomax


def test_curves_from_metrics_takes_evaluated_rounds_and_failures():
  nan = np.nan
  kl = np.array([[2.0, nan, 1.0, nan, 0.5],
                 [2.0, nan, 1.5, nan, 1.0],
                 [2.0, nan, nan, nan, 0.7]])  # Seed 2: non-finite KL at an evaluated round.
  failed = np.array([[0.0, nan, 0.0, nan, 0.0],
                     [0.0, 1.0, 0.0, nan, 0.0],  # Seed 1: failed at a round not evaluated.
                     [0.0, nan, 0.0, nan, 0.0]])
  coverage = np.arange(3 * 5 * 2, dtype=float).reshape(3, 5, 2)
  curves = summary_lib.curves_from_metrics({'kl': kl, 'coverage_G': coverage, 'failed': failed},
                                           queries_per_round=8, evaluated_rounds=[0, 2, 4])
  np.testing.assert_array_equal(curves.queries_R, [0.0, 16.0, 32.0])
  np.testing.assert_array_equal(curves.kl_SxR[:2], [[2.0, 1.0, 0.5], [2.0, 1.5, 1.0]])
  np.testing.assert_array_equal(curves.coverage_SxRxG, coverage[:, [0, 2, 4]])
  np.testing.assert_array_equal(curves.failed_S, [False, True, True])


def test_close_targets_are_fractions_of_the_pretrained_lms_kl_not_of_round_0():
  """The reference KL of close_<f> is the pre-trained LM's, from pretrain.json (`kl_to_pstar`,
  passed by the runner as `pretrained_kl`): target_kl = (1 - f) * pretrain.json's KL. It is NOT
  round 0 of the curves (the deployed mixture of the initial members, which their priors move
  away from the pre-trained LM): the README's "(1 - f) * 1.038" is pretrain.json's 1.038, while
  its table's KL after 0 rankings is the mixture's 1.016."""
  round0_kl = 2.5  # The curve starts above the pre-trained LM's KL (PRETRAINED_KL = 2.0).
  curve = _curves([200.0])
  curve = curve._replace(kl_SxR=curve.kl_SxR * round0_kl / PRETRAINED_KL)
  entry = _summarize({('joint', 'infomax'): curve})['joint']['infomax']
  for f in (50, 80, 90):
    target = (1 - f / 100) * PRETRAINED_KL
    np.testing.assert_allclose(entry[f'close_{f}']['target_kl'], target, rtol=1e-12)
    np.testing.assert_allclose(entry[f'close_{f}']['choices'], _interpolated_crossing(
        QUERIES_R, curve.kl_SxR[0], target), rtol=1e-9)


def test_a_runs_close_targets_use_pretrain_json_not_round_0(tiny_run):
  """The same on a run (the session's tiny run): summary.json's targets are (1 - f) times
  pretrain.json's `kl_to_pstar`, which is not the mean KL of results.csv's round 0."""
  with open(os.path.join(tiny_run, 'pretrain.json')) as f:
    pretrained_kl = json.load(f)['kl_to_pstar']
  with open(os.path.join(tiny_run, 'summary.json')) as f:
    summary = json.load(f)
  with open(os.path.join(tiny_run, 'results.csv')) as f:
    rows = list(csv.DictReader(f))
  for strategy, entry in summary['joint'].items():
    round0 = np.mean([float(r['kl']) for r in rows
                      if r['strategy'] == strategy and int(r['round']) == 0])
    assert abs(round0 - pretrained_kl) > 1e-4, (round0, pretrained_kl)  # The two differ...
    for f in (50, 80, 90):  # ...and the targets are pretrain.json's.
      np.testing.assert_allclose(entry[f'close_{f}']['target_kl'],
                                 (1 - f / 100) * pretrained_kl, rtol=1e-6)


def test_ratios_are_a_paired_resample_equal_to_a_brute_force_one():
  """Strategies ran on the same seeds, so one draw of seeds serves both: the ratio's interval is
  the percentiles of (baseline's crossing / this one's) over resamples drawing the SAME seeds for
  both, recomputed here by hand; with 4 seeds the text shows the BCa interval and the count."""
  rng = np.random.default_rng(11)
  infomax_taus, passive_taus = rng.uniform(100, 300, 4), rng.uniform(300, 600, 4)
  summary = _summarize({('joint', 'infomax'): _curves(infomax_taus),
                        ('joint', 'passive'): _curves(passive_taus)}, seed=3)
  versus = summary['joint']['infomax']['close_50_vs_passive']
  idx_BxS = np.random.default_rng(3).integers(0, 4, size=(200, 4))  # The one shared draw.
  crossing = _crossing_of(0.5 * PRETRAINED_KL)
  ratio_B = [crossing(passive_taus, row) / crossing(infomax_taus, row) for row in idx_BxS]
  np.testing.assert_allclose(versus['ci90'], np.percentile(ratio_B, [5, 95]), rtol=1e-9)
  assert versus['paired'] and versus['num_seeds'] == 4
  assert '4 seeds, paired; BCa ' in versus['text'], versus['text']
  assert all(b is not None for b in versus['ci90_bca'])
  close = summary['joint']['infomax']['close_50']
  assert close['num_seeds'] == 4 and '4 seeds; BCa' in close['text'], close['text']
  np.testing.assert_allclose(
      close['ci90'], np.percentile([crossing(infomax_taus, row) for row in idx_BxS], [5, 95]),
      rtol=1e-9)


def _crossing_of(target: float):
  """`(taus, lanes) ->` choices at which the mean curve of those lanes crosses `target`."""
  return lambda taus, lanes: _interpolated_crossing(
      QUERIES_R, _curves(taus).kl_SxR[lanes].mean(0), target)


def test_learner_lag_is_the_online_kl_minus_the_refit_kl_at_the_refit_rounds():
  kl = np.array([[1.0, 0.8, 0.6, 0.5], [1.0, 0.9, 0.7, 0.5]])
  refit = np.full_like(kl, np.nan)
  refit[:, 2], refit[:, 3] = [0.5, 0.5], [0.4, np.nan]  # Seed 1's last refit failed.
  lag = summary_lib.learner_lag({'kl': kl, 'refit_kl': refit}, queries_per_round=64)
  assert [r['round'] for r in lag['rounds']] == [2, 3]
  first, last = lag['rounds']
  np.testing.assert_allclose([first['online_kl'], first['refit_kl'], first['lag']],
                             [0.65, 0.5, 0.15])
  np.testing.assert_allclose(first['lag_fraction'], 0.15 / 0.65)
  assert last == lag['final'] and last['num_seeds'] == 1 and last['queries'] == 192
  np.testing.assert_allclose(last['lag'], 0.1)
  assert '1 seed' in lag['text']


def test_lanes_in_worlds_resample_worlds_then_seeds_and_count_the_worlds_agreeing():
  """4 worlds x 2 seeds: the shared draw is hierarchical (`bootstrap.resample_indices` with the
  lanes' worlds), the ratio's interval is its brute-force recomputation, and `worlds_agreeing`
  is the share of worlds whose own mean curves give a ratio above 1."""
  from lmrl import bootstrap
  world_S = np.repeat(np.arange(4), 2)
  fast_taus = np.array([100, 120, 150, 160, 130, 110, 400, 420.0])  # World 3: slower than...
  slow_taus = np.array([300, 320, 450, 400, 350, 330, 200, 210.0])  # ...the baseline there.
  curves = {('joint', 'epig'): _curves(fast_taus)._replace(world_S=world_S),
            ('joint', 'passive'): _curves(slow_taus)._replace(world_S=world_S)}
  summary = _summarize(curves, seed=5)
  versus = summary['joint']['epig']['close_50_vs_passive']
  idx_BxS = bootstrap.resample_indices(np.random.default_rng(5), 8, 200, world_S)
  crossing = _crossing_of(0.5 * PRETRAINED_KL)
  ratio_B = [crossing(slow_taus, row) / crossing(fast_taus, row) for row in idx_BxS]
  np.testing.assert_allclose(versus['ci90'], np.percentile(ratio_B, [5, 95]), rtol=1e-9)
  assert versus['paired'] and versus['num_worlds'] == 4
  assert versus['worlds_agreeing'] == 0.75 and '3/4 worlds above 1' in versus['text']
  entry = summary['joint']['epig']
  assert entry['num_worlds'] == 4 and entry['final_kl']['num_worlds'] == 4
