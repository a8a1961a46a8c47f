"""Intervals over seeds: bootstrap resamples, percentile and BCa intervals that allow +inf,
Student-t intervals of means, and ratios.

`lmrl.summary` draws one set of resample indices per agent and grid point (`resample_indices`),
shared by every strategy there (they run on the same seeds: a *paired* bootstrap), and reads
every statistic off it. Three intervals, each a 90% interval:

  percentile  the 5th and 95th percentile of the statistic over the resamples (`percentiles`);
  BCa         bias-corrected and accelerated percentiles (Efron 1987; `bca`): the percentiles
              shifted by the resamples' median bias `z0` and the skew `a` read off the jackknife
              (each seed left out once). Better coverage than the plain percentiles with few
              seeds, where a resample of S seeds takes only C(2S-1, S) distinct values (35 for
              S = 4);
  t           for a mean: mean +/- t_{0.95, S-1} s.e. (`t_interval`).

A resample whose curve never reaches a target counts as +inf choices, so percentiles, BCa,
ratios and fractions here are defined with infinities in them.
"""

import math

import numpy as np
from scipy import stats


def resample_indices(rng: np.random.Generator, num_seeds: int, num_bootstrap: int,
                     world_S: np.ndarray | None = None) -> np.ndarray:
  """int[num_bootstrap, num_seeds]: seeds drawn with replacement, one row per resample.

  With `world_S` (each lane's world, every world holding the same number of lanes) the draw is
  hierarchical: a resample draws W worlds with replacement, then within each drawn world as many
  of its lanes with replacement, so the spread between worlds is in every interval.
  """
  if world_S is None:
    return rng.integers(0, num_seeds, size=(num_bootstrap, num_seeds))
  members_WxN = world_members(world_S)
  W, N = members_WxN.shape
  world_BxW = rng.integers(0, W, size=(num_bootstrap, W))
  within_BxWxN = rng.integers(0, N, size=(num_bootstrap, W, N))
  return members_WxN[world_BxW[..., None], within_BxWxN].reshape(num_bootstrap, W * N)


def world_members(world_S: np.ndarray) -> np.ndarray:
  """int[W, N]: the lanes of each world (in lane order); every world must hold N lanes."""
  world_S = np.asarray(world_S)
  worlds = np.unique(world_S)
  members = [np.flatnonzero(world_S == w) for w in worlds]
  if len({m.size for m in members}) != 1:
    raise ValueError(f'every world must hold the same number of lanes, got '
                     f'{[m.size for m in members]}')
  return np.stack(members)


def percentiles(values_B: np.ndarray, q=(5.0, 95.0)) -> tuple[float, ...]:
  """Linearly interpolated percentiles that allow +inf (between x and inf lies inf, not NaN);
  NaN for no values."""
  x = np.sort(np.asarray(values_B, dtype=float).ravel())
  if x.size == 0:
    return tuple(float('nan') for _ in q)
  out = []
  for p in q:
    pos = p / 100 * (x.size - 1)
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    t = pos - lo
    if x[lo] == x[hi] or t == 0:
      out.append(float(x[lo]))
    elif math.isinf(x[hi]):
      out.append(float('inf'))
    else:
      out.append(float(x[lo] + t * (x[hi] - x[lo])))
  return tuple(out)


def resample_means(values_SxX: np.ndarray, idx_BxS: np.ndarray,
                   good_S: np.ndarray | None = None) -> np.ndarray:
  """float[B, ...]: each resample's mean over its drawn seeds that are `good` (all by default).

  A failed seed drawn into a resample is left out of that resample's mean (NaN when every drawn
  seed failed), so strategies that share the draw stay paired when one of them loses a seed.
  """
  values_SxX = np.asarray(values_SxX, dtype=float)
  if good_S is None:
    return values_SxX[idx_BxS].mean(1)
  weight_BxS = np.asarray(good_S, bool)[idx_BxS].astype(float)
  drawn = np.where(np.asarray(good_S, bool).reshape((-1,) + (1,) * (values_SxX.ndim - 1)),
                   values_SxX, 0.0)[idx_BxS]
  weight = weight_BxS.reshape(weight_BxS.shape + (1,) * (values_SxX.ndim - 1))
  with np.errstate(invalid='ignore', divide='ignore'):
    return (drawn * weight).sum(1) / weight.sum(1)


def mean_stats(values_S: np.ndarray, idx_BxS: np.ndarray, good_S: np.ndarray | None = None,
               world_S: np.ndarray | None = None) -> dict:
  """{mean, se (ddof=1; 0 for one seed), ci90 of the bootstrap mean, ci90_t, num_seeds} of the
  `good` seeds' values (all by default).

  `idx_BxS` are the resamples' seed indices (`resample_indices`, `resample_means`); an infinite
  bound is None. With `world_S` (lanes in worlds) the se and the t-interval are those of the
  worlds' means (W - 1 degrees of freedom: worlds are the independent units), and `num_worlds`
  is added.
  """
  used_S = np.asarray(values_S, float)[good_S] if good_S is not None else np.asarray(
      values_S, float)
  num_seeds = used_S.shape[0]
  units = world_means(values_S, world_S, good_S)
  units = units[np.isfinite(units)] if world_S is not None else units
  se = float(units.std(ddof=1) / np.sqrt(units.size)) if units.size > 1 else 0.0
  means_B = resample_means(values_S, idx_BxS, good_S)
  lo, hi = percentiles(means_B[~np.isnan(means_B)])
  out = {'mean': float(used_S.mean()), 'se': se, 'ci90': finite_interval(lo, hi),
         'ci90_t': finite_interval(*t_interval(units)), 'num_seeds': int(num_seeds)}
  if world_S is not None:
    out['num_worlds'] = int(units.size)
  return out


def t_interval(values_S: np.ndarray, level: float = 0.90) -> tuple[float, float]:
  """The Student-t interval of the mean, mean +/- t_{(1+level)/2, S-1} s.e.; (NaN, NaN) for
  fewer than two values."""
  values_S = np.asarray(values_S, dtype=float)
  if values_S.size < 2:
    return float('nan'), float('nan')
  half = stats.t.ppf(0.5 + level / 2, values_S.size - 1) * values_S.std(ddof=1) / math.sqrt(
      values_S.size)
  return float(values_S.mean() - half), float(values_S.mean() + half)


def jackknife_indices(num_seeds: int, world_S: np.ndarray | None = None) -> np.ndarray:
  """int[S, S-1]: row i holds every seed but seed i. With `world_S`, int[W, S - S/W]: row w
  holds every lane but world w's (the jackknife of the hierarchical bootstrap's units)."""
  if world_S is not None:
    members_WxN = world_members(world_S)
    return np.stack([np.setdiff1d(np.arange(num_seeds), m) for m in members_WxN])
  return np.asarray([[j for j in range(num_seeds) if j != i] for i in range(num_seeds)], int)


def world_means(values_S: np.ndarray, world_S: np.ndarray | None,
                good_S: np.ndarray | None = None) -> np.ndarray:
  """float[W]: each world's mean over its good lanes (NaN where none is good); the values
  themselves (their good ones) without worlds."""
  values_S = np.asarray(values_S, float)
  good_S = np.ones(values_S.shape[0], bool) if good_S is None else np.asarray(good_S, bool)
  if world_S is None:
    return values_S[good_S]
  with np.errstate(invalid='ignore'):
    return np.asarray([values_S[m][good_S[m]].mean() if good_S[m].any() else np.nan
                       for m in world_members(world_S)])


def bca(estimate: float, values_B: np.ndarray, jackknife_S: np.ndarray,
        q=(5.0, 95.0)) -> tuple[float, ...]:
  """Bias-corrected and accelerated bootstrap percentiles (Efron 1987), allowing +inf.

  `values_B` are the statistic over the bootstrap resamples, `jackknife_S` the statistic with
  each seed left out. z0 = Phi^-1(share of resamples below the estimate, ties counted half);
  a = sum(d^3) / (6 sum(d^2)^1.5) with d the jackknife values' deviations from their mean
  (0 when a jackknife value is infinite or all are equal). The q-th percentile becomes the
  Phi(z0 + (z0 + z_q) / (1 - a (z0 + z_q)))-th. NaN bounds when the estimate is not finite or
  every resample lies on one side of it (z0 infinite).
  """
  values_B = np.asarray(values_B, dtype=float)
  values_B = values_B[~np.isnan(values_B)]
  if not math.isfinite(estimate) or values_B.size == 0:
    return tuple(float('nan') for _ in q)
  below = (np.sum(values_B < estimate) + 0.5 * np.sum(values_B == estimate)) / values_B.size
  if below <= 0 or below >= 1:
    return tuple(float('nan') for _ in q)
  z0 = stats.norm.ppf(below)
  jack = np.asarray(jackknife_S, dtype=float)
  a = 0.0
  if jack.size > 1 and np.all(np.isfinite(jack)):
    d = jack.mean() - jack
    denominator = 6.0 * np.sum(d ** 2) ** 1.5
    a = float(np.sum(d ** 3) / denominator) if denominator > 0 else 0.0
  z_q = stats.norm.ppf(np.asarray(q) / 100)
  adjusted = stats.norm.cdf(z0 + (z0 + z_q) / (1 - a * (z0 + z_q)))
  return percentiles(values_B, q=tuple(100 * adjusted))


def ratio(base: np.ndarray, mine: np.ndarray) -> np.ndarray:
  """base / mine, inf meaning not reached: inf/x = inf, x/inf = 0, inf/inf = NaN, 0/0 = 1."""
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.where((base == 0) & (mine == 0), 1.0, base / mine)


def fraction(mask_B: np.ndarray) -> float | None:
  """The fraction of resamples where `mask_B` holds; None when there are none."""
  return float(mask_B.mean()) if mask_B.size else None


def finite(x: float) -> float | None:
  """`x` as a float, or None when it is NaN or infinite (for strict JSON)."""
  return float(x) if math.isfinite(x) else None


def finite_interval(lo: float, hi: float) -> list[float | None]:
  """[lo, hi] for strict JSON: a NaN or infinite bound is None (`finite`)."""
  return [finite(lo), finite(hi)]
