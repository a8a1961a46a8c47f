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
  assert one == {'mean': values_S[0], 'se': 0.0, 'ci90': [values_S[0], values_S[0]]}


def test_fraction_and_finite_for_strict_json():
  assert bootstrap.fraction(np.array([True, False, True, True])) == 0.75
  assert bootstrap.fraction(np.array([], bool)) is None
  assert bootstrap.finite(2.5) == 2.5 and bootstrap.finite(INF) is None
  assert bootstrap.finite_interval(NAN, 3.0) == [None, 3.0]
