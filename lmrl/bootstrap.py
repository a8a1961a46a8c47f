"""Bootstrap over seeds: resample indices, percentile intervals that allow +inf, and ratios.

`lmrl.summary` draws one set of resample indices per strategy (`resample_indices`) and reads every
statistic of that strategy off it; an interval is the 5th and 95th percentile of a statistic over
the resamples (`percentiles`). A resample whose curve never reaches a target counts as +inf
choices, so percentiles, ratios and fractions here are defined with infinities in them.
"""

import math

import numpy as np


def resample_indices(rng: np.random.Generator, num_seeds: int, num_bootstrap: int) -> np.ndarray:
  """int[num_bootstrap, num_seeds]: seeds drawn with replacement, one row per resample."""
  return rng.integers(0, num_seeds, size=(num_bootstrap, num_seeds))


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


def mean_stats(values_S: np.ndarray, idx_BxS: np.ndarray) -> dict:
  """{mean, se (ddof=1; 0 for one seed), ci90 of the bootstrap mean} of finite values.

  `idx_BxS` are the resamples' seed indices (`resample_indices`); an infinite bound is None.
  """
  num_seeds = values_S.shape[0]
  se = float(values_S.std(ddof=1) / np.sqrt(num_seeds)) if num_seeds > 1 else 0.0
  lo, hi = percentiles(values_S[idx_BxS].mean(1))
  return {'mean': float(values_S.mean()), 'se': se, 'ci90': finite_interval(lo, hi)}


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
