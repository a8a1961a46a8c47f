"""Result files: long-format rows, appended, and the summary derived from them.

`results.csv` has one row per (agent, strategy, seed, evaluated round) with the columns
`agent, strategy, seed, round, queries, kl, tv, choice_loss, spread, coverage_g<g>` and
`target_coverage_g<g>` (what `p*` gives group g's favourites). Round 0 is the pre-trained LM.

`summarize` gives, per agent and strategy, the final KL (mean and standard error over seeds) and
the queries needed to reach the *passive* strategy's final mean KL (same agent), read off the
mean-over-seeds curve with linear interpolation between evaluated rounds, with its ratio to
passive's. Error bars on those come from resampling seeds with replacement (bootstrap), the
target being recomputed from each resample of passive's seeds.
"""

import csv
import os

import numpy as np

BASE_COLUMNS = ('agent', 'strategy', 'seed', 'round', 'queries')


def metric_rows(agent: str, strategy: str, metrics: dict[str, np.ndarray],
                target_coverage_G: np.ndarray, queries_per_round: int) -> list[dict]:
  """Rows for every seed and evaluated round of `metrics` (arrays [S, R, ...], NaN = skipped)."""
  kl_SxR = np.asarray(metrics['kl'])
  rows = []
  for s in range(kl_SxR.shape[0]):
    for r in range(kl_SxR.shape[1]):
      if np.isnan(kl_SxR[s, r]):
        continue
      row = {'agent': agent, 'strategy': strategy, 'seed': s, 'round': r,
             'queries': r * queries_per_round}
      for name, value in metrics.items():
        value = np.asarray(value[s, r])
        if value.ndim == 0:
          row[name] = float(value)
        else:
          for g, v in enumerate(value):
            row[f'{name.removesuffix("_G")}_g{g}'] = float(v)
      for g, v in enumerate(np.asarray(target_coverage_G)):
        row[f'target_coverage_g{g}'] = float(v)
      rows.append(row)
  return rows


def append_rows(path: str, rows: list[dict]) -> None:
  """Appends rows to a CSV (writing the header if the file is new); never rewrites it."""
  if not rows:
    return
  new = not os.path.exists(path)
  with open(path, 'a', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    if new:
      writer.writeheader()
    writer.writerows(rows)


def read_rows(path: str) -> list[dict]:
  """Rows of a results CSV, numbers parsed."""
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  for row in rows:
    for k, v in row.items():
      if k not in ('agent', 'strategy'):
        row[k] = float(v)
  return rows


def curves(rows: list[dict], metric: str) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
  """{(agent, strategy): (queries float[R], values float[S, R])} from long-format rows."""
  out = {}
  for key in sorted({(r['agent'], r['strategy']) for r in rows}, key=str):
    sub = [r for r in rows if (r['agent'], r['strategy']) == key]
    queries = np.array(sorted({r['queries'] for r in sub}))
    seeds = sorted({r['seed'] for r in sub})
    values = np.full((len(seeds), len(queries)), np.nan)
    for r in sub:
      values[seeds.index(r['seed']), np.searchsorted(queries, r['queries'])] = r[metric]
    out[key] = (queries, values)
  return out


def queries_to_reach(queries_R: np.ndarray, kl_R: np.ndarray, target: float) -> float:
  """First query count where the curve falls to `target` (linear interpolation), else NaN."""
  below = np.nonzero(kl_R <= target)[0]
  if below.size == 0:
    return float('nan')
  i = below[0]
  if i == 0:
    return float(queries_R[0])
  q0, q1, k0, k1 = queries_R[i - 1], queries_R[i], kl_R[i - 1], kl_R[i]
  return float(q0 + (q1 - q0) * (k0 - target) / (k0 - k1))


def summarize(rows: list[dict], num_bootstrap: int = 500, seed: int = 0) -> dict:
  """Per agent and strategy: final KL (mean, s.e.), queries to passive's final KL and ratio."""
  rng = np.random.default_rng(seed)
  kl_curves = curves(rows, 'kl')
  summary = {}
  for agent in sorted({a for a, _ in kl_curves}):
    passive = kl_curves.get((agent, 'passive'))
    for (a, strategy), (queries, kl_SxR) in kl_curves.items():
      if a != agent:
        continue
      S = kl_SxR.shape[0]
      final_S = kl_SxR[:, -1]
      entry = {'num_seeds': S, 'final_queries': float(queries[-1]),
               'final_kl_mean': float(final_S.mean()),
               'final_kl_se': float(final_S.std(ddof=1) / np.sqrt(S)) if S > 1 else 0.0}
      if passive is not None:
        p_queries, p_kl = passive

        def needed(kl_s, p_kl_s):
          target = p_kl_s[:, -1].mean()
          mine = queries_to_reach(queries, kl_s.mean(0), target)
          theirs = queries_to_reach(p_queries, p_kl_s.mean(0), target)
          return mine, theirs / mine if mine > 0 else float('nan')

        q, ratio = needed(kl_SxR, p_kl)
        boot = np.array([needed(kl_SxR[rng.integers(0, S, S)],
                                p_kl[rng.integers(0, p_kl.shape[0], p_kl.shape[0])])
                         for _ in range(num_bootstrap)])
        entry.update({
            'target_kl': float(p_kl[:, -1].mean()),
            'queries_to_target': q,
            'queries_to_target_se': float(np.nanstd(boot[:, 0])),
            'ratio_vs_passive': ratio,
            'ratio_vs_passive_se': float(np.nanstd(boot[:, 1][np.isfinite(boot[:, 1])])),
            'ratio_vs_passive_ci90': [float(x) for x in np.nanpercentile(
                boot[:, 1], [5, 95])],
            'reached_target_fraction_of_resamples': float(np.mean(~np.isnan(boot[:, 0]))),
        })
      summary.setdefault(agent, {})[strategy] = entry
  return summary
