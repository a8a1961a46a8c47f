"""The bootstrap helpers: percentiles that allow +inf, the ratio's rules for unreached targets, and
mean statistics equal to a brute-force resample. NumPy only."""

import numpy as np

from lmrl import bootstrap

INF, NAN = float('inf'), float('nan')


def test_percentiles_match_numpy_and_allow_inf():
  values = np.random.default_rng(0).normal(size=37)
  np.testing.assert_allclose(bootstrap.percentiles(values), np.percentile(values, [5, 95]),
                             rtol=1e-12)
  # Between a finite value and +inf lies +inf (NumPy's interpolation gives NaN there).
  median, low = bootstrap.percentiles([1.0, 2.0, INF, INF], q=(50.0, 5.0))
  assert median == INF and abs(low - 1.15) < 1e-12
  assert bootstrap.percentiles([3.0, INF], q=(0.0, 100.0)) == (3.0, INF)
  assert all(np.isnan(bootstrap.percentiles([])))


def test_ratio_of_unreached_targets():
  base = np.array([4.0, INF, 4.0, INF, 0.0, 0.0])
  mine = np.array([2.0, 2.0, INF, INF, 0.0, 2.0])
  np.testing.assert_array_equal(bootstrap.ratio(base, mine), [2.0, INF, 0.0, NAN, 1.0, 0.0])


def test_mean_stats_equal_a_brute_force_resample():
  rng = np.random.default_rng(1)
  values_S = rng.uniform(size=5)
  idx_BxS = bootstrap.resample_indices(np.random.default_rng(2), 5, 400)
  assert idx_BxS.shape == (400, 5) and idx_BxS.min() >= 0 and idx_BxS.max() <= 4
  np.testing.assert_array_equal(idx_BxS, bootstrap.resample_indices(np.random.default_rng(2), 5,
                                                                    400))  # Deterministic.
  means_B = [np.mean([values_S[i] for i in row]) for row in idx_BxS]
  stats = bootstrap.mean_stats(values_S, idx_BxS)
  assert stats['mean'] == values_S.mean()
  np.testing.assert_allclose(stats['se'], np.std(values_S, ddof=1) / np.sqrt(5), rtol=1e-12)
  np.testing.assert_allclose(stats['ci90'], np.percentile(means_B, [5, 95]), rtol=1e-12)
  one = bootstrap.mean_stats(values_S[:1], np.zeros((10, 1), int))
  assert one == {'mean': values_S[0], 'se': 0.0, 'ci90': [values_S[0], values_S[0]],
                 'ci90_t': [None, None], 'num_seeds': 1}


def test_fraction_and_finite_for_strict_json():
  assert bootstrap.fraction(np.array([True, False, True, True])) == 0.75
  assert bootstrap.fraction(np.array([], bool)) is None
  assert bootstrap.finite(2.5) == 2.5 and bootstrap.finite(INF) is None
  assert bootstrap.finite_interval(NAN, 3.0) == [None, 3.0]


def test_t_interval_is_students():
  from scipy import stats  # pylint: disable=g-import-not-at-top
  values = np.random.default_rng(3).normal(size=4)
  expected = stats.t.interval(0.9, 3, loc=values.mean(), scale=stats.sem(values))
  np.testing.assert_allclose(bootstrap.t_interval(values), expected, rtol=1e-12)
  assert all(np.isnan(bootstrap.t_interval(values[:1])))


def test_a_failed_seed_is_left_out_of_each_resample_it_is_drawn_into():
  values = np.array([1.0, 2.0, np.nan, 4.0])
  good = np.isfinite(values)
  idx_BxS = bootstrap.resample_indices(np.random.default_rng(4), 4, 50)
  expected = [np.mean([values[i] for i in row if good[i]]) if good[row].any() else np.nan
              for row in idx_BxS]
  np.testing.assert_allclose(bootstrap.resample_means(values, idx_BxS, good), expected)
  stats = bootstrap.mean_stats(values, idx_BxS, good)
  assert stats['mean'] == np.mean([1.0, 2.0, 4.0]) and stats['num_seeds'] == 3


def _bca_brute_force(estimate, values_B, jackknife_S, q):
  """Efron's BCa with the textbook formulas, one bound at a time (finite values only)."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  z0 = stats.norm.ppf((np.sum(values_B < estimate) + 0.5 * np.sum(values_B == estimate))
                      / len(values_B))
  d = np.mean(jackknife_S) - np.asarray(jackknife_S)
  a = np.sum(d ** 3) / (6 * np.sum(d ** 2) ** 1.5)
  z = stats.norm.ppf(q / 100)
  return np.percentile(values_B, 100 * stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))


def test_bca_equals_the_textbook_formula_and_shifts_with_skew():
  rng = np.random.default_rng(5)
  values_S = rng.exponential(size=6)  # Skewed: BCa moves the interval right of the percentiles.
  idx_BxS = bootstrap.resample_indices(rng, 6, 2000)
  means_B = values_S[idx_BxS].mean(1)
  jack_S = values_S[bootstrap.jackknife_indices(6)].mean(1)
  lo, hi = bootstrap.bca(values_S.mean(), means_B, jack_S)
  np.testing.assert_allclose([lo, hi], [_bca_brute_force(values_S.mean(), means_B, jack_S, q)
                                        for q in (5.0, 95.0)], rtol=1e-12)
  plain_lo, plain_hi = bootstrap.percentiles(means_B)
  assert lo > plain_lo and hi > plain_hi
  # Unreached resamples (+inf) stay +inf; an estimate outside every resample has no BCa.
  assert bootstrap.bca(1.0, np.array([0.5, 1.5, np.inf, np.inf]), np.ones(3))[1] == np.inf
  assert all(np.isnan(bootstrap.bca(9.0, np.array([1.0, 2.0]), np.ones(2))))


def test_hierarchical_resample_matches_the_exact_two_stage_distribution():
  """W = 2 worlds of N = 2 lanes: a resample draws 2 worlds with replacement, then 2 lanes with
  replacement within each. Enumerating every one of the (2 * 2^2)^2 = 64 equally likely draws
  gives the exact distribution of the resampled mean; 40,000 draws match its mean and variance,
  and every drawn lane block comes from one world."""
  import itertools
  values_S = np.array([0.0, 1.0, 10.0, 14.0])
  world_S = np.array([0, 0, 1, 1])
  members = bootstrap.world_members(world_S)
  exact = []
  for worlds in itertools.product(range(2), repeat=2):
    for within in itertools.product(range(2), repeat=4):
      lanes = [members[worlds[k]][within[2 * k + i]] for k in range(2) for i in range(2)]
      exact.append(values_S[lanes].mean())
  idx_BxS = bootstrap.resample_indices(np.random.default_rng(0), 4, 40_000, world_S)
  means_B = bootstrap.resample_means(values_S, idx_BxS)
  assert abs(means_B.mean() - np.mean(exact)) < 4 * np.std(exact) / np.sqrt(40_000)
  np.testing.assert_allclose(means_B.var(), np.var(exact), rtol=0.05)
  # A plain (one-stage) resample of the lanes under-states the spread between worlds.
  plain_B = bootstrap.resample_means(values_S, bootstrap.resample_indices(
      np.random.default_rng(0), 4, 40_000))
  assert plain_B.var() < 0.8 * np.var(exact)
  blocks = world_S[idx_BxS].reshape(40_000, 2, 2)
  assert np.all(blocks[..., 0] == blocks[..., 1])


def test_world_jackknife_and_t_interval_use_the_worlds_as_units():
  world_S = np.array([0, 0, 1, 1, 2, 2])
  np.testing.assert_array_equal(bootstrap.jackknife_indices(6, world_S),
                                [[2, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 3]])
  values_S = np.array([1.0, 3.0, 5.0, 7.0, 20.0, 22.0])
  stats_ = bootstrap.mean_stats(values_S, np.zeros((1, 6), int), world_S=world_S)
  means_W = np.array([2.0, 6.0, 21.0])
  assert stats_['num_worlds'] == 3 and stats_['num_seeds'] == 6
  np.testing.assert_allclose(stats_['se'], means_W.std(ddof=1) / np.sqrt(3))
  np.testing.assert_allclose(stats_['ci90_t'], bootstrap.t_interval(means_W))
