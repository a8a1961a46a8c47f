"""Result files: long-format rows, written atomically, and the summary derived from them.

`results.csv` has one row per (agent, strategy, seed, evaluated round) with the columns
`agent, strategy, seed, round, queries, kl, tv, choice_loss, spread, coverage_g<g>`,
`target_coverage_g<g>` (what `p*` gives group g's favourites) and `failed` (1 once the seed's
loss or metrics have been NaN or inf). Round 0 is the pre-trained LM.

Every file is written whole, once, under a temporary name and then renamed (`write_atomic`), so
a killed process leaves either the previous file or the new one, never half of one.

A seed that failed at any round is excluded from every mean of the summary, which lists it
(`failed_seeds`); nothing non-finite is ever averaged in.

`summarize` gives, per agent and strategy, the final KL (mean and standard error over seeds) and
the queries needed to reach the *passive* strategy's final mean KL (same agent), read off the
mean-over-seeds curve with linear interpolation between evaluated rounds, with its ratio to
passive's. Error bars on those come from resampling seeds with replacement (bootstrap), the
target being recomputed from each resample of passive's seeds.
"""

import contextlib
import csv
import io
import json
import math
import os

import numpy as np

BASE_COLUMNS = ('agent', 'strategy', 'seed', 'round', 'queries')


def metric_rows(agent: str, strategy: str, metrics: dict[str, np.ndarray],
                target_coverage_G: np.ndarray, queries_per_round: int,
                rounds: list[int]) -> list[dict]:
  """Rows for every seed and each of `rounds` (the evaluated ones) of `metrics` ([S, R, ...])."""
  rows = []
  for s in range(np.asarray(metrics['kl']).shape[0]):
    failed = bool(np.any(np.asarray(metrics['failed'])[s] > 0)) if 'failed' in metrics else False
    for r in rounds:
      row = {'agent': agent, 'strategy': strategy, 'seed': s, 'round': r,
             'queries': r * queries_per_round}
      for name, value in metrics.items():
        value = np.asarray(value[s, r])
        if name == 'failed':
          row[name] = int(failed and value > 0)
        elif value.ndim == 0:
          row[name] = float(value)
        else:
          for g, v in enumerate(value):
            row[f'{name.removesuffix("_G")}_g{g}'] = float(v)
      for g, v in enumerate(np.asarray(target_coverage_G)):
        row[f'target_coverage_g{g}'] = float(v)
      rows.append(row)
  return rows


@contextlib.contextmanager
def atomic_path(path: str):
  """Yields a temporary path to write `path`'s whole content to; renamed to `path` on success."""
  tmp = f'{path}.tmp{os.getpid()}'
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_atomic(path: str, text: str) -> None:
  """Writes `text` to `path` via a temporary file and a rename: never half a file."""
  with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())


def write_rows(path: str, rows: list[dict]) -> None:
  """Writes rows as a CSV (header from the union of their columns, in first-seen order)."""
  columns = list(dict.fromkeys(k for row in rows for k in row))
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=columns)
  writer.writeheader()
  writer.writerows(rows)
  write_atomic(path, out.getvalue())


def concatenate(paths: list[str], path: str) -> None:
  """Writes the CSVs `paths` (one header, the same in each) one after another to `path`."""
  header, lines = None, []
  for part in paths:
    with open(part, newline='') as f:
      first, *rest = f.read().splitlines(keepends=True)
    if header is not None and first != header:
      raise ValueError(f'{part} has other columns than {paths[0]}')
    header = first
    lines += rest
  write_atomic(path, ''.join([header or ''] + lines))


def write_json(path: str, value) -> None:
  """Writes strict JSON (NaN and inf become null) atomically."""
  write_atomic(path, json.dumps(_finite_or_none(value), indent=2) + '\n')


def _finite_or_none(value):
  if isinstance(value, dict):
    return {k: _finite_or_none(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_finite_or_none(v) for v in value]
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def read_rows(path: str) -> list[dict]:
  """Rows of a results CSV, numbers parsed."""
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  for row in rows:
    for k, v in row.items():
      if k not in ('agent', 'strategy'):
        row[k] = float(v) if v not in ('', None) else float('nan')
  return rows


def failed_seeds(rows: list[dict]) -> dict[tuple[str, str], list[int]]:
  """{(agent, strategy): seeds marked failed, or with a non-finite KL, at any round}."""
  out = {}
  for r in rows:
    bad = r.get('failed', 0) > 0 or not math.isfinite(r['kl'])
    seeds = out.setdefault((r['agent'], r['strategy']), set())
    if bad:
      seeds.add(int(r['seed']))
  return {k: sorted(v) for k, v in out.items()}


def curves(rows: list[dict], metric: str, exclude_failed: bool = True
           ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
  """{(agent, strategy): (queries float[R], values float[S, R])} from long-format rows.

  With `exclude_failed`, the seeds of `failed_seeds` are left out.
  """
  failed = failed_seeds(rows) if exclude_failed else {}
  out = {}
  for key in sorted({(r['agent'], r['strategy']) for r in rows}, key=str):
    sub = [r for r in rows if (r['agent'], r['strategy']) == key
           and int(r['seed']) not in failed.get(key, ())]
    if not sub:
      continue
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
  """Per agent and strategy: final KL (mean, s.e.), queries to passive's final KL and ratio.

  Failed seeds are counted and listed, and left out of every statistic.
  """
  rng = np.random.default_rng(seed)
  kl_curves = curves(rows, 'kl')
  summary = {}
  for (agent, strategy), bad in failed_seeds(rows).items():
    entry = {'num_seeds': len({int(r['seed']) for r in rows
                                if (r['agent'], r['strategy']) == (agent, strategy)}),
             'num_failed_seeds': len(bad), 'failed_seeds': bad}
    summary.setdefault(agent, {})[strategy] = entry
    if (agent, strategy) not in kl_curves:  # Every seed failed.
      entry.update(final_kl_mean=float('nan'), final_kl_se=float('nan'))
      continue
    queries, kl_SxR = kl_curves[(agent, strategy)]
    S = kl_SxR.shape[0]
    final_S = kl_SxR[:, -1]
    entry.update({'num_seeds_used': S, 'final_queries': float(queries[-1]),
                  'final_kl_mean': float(final_S.mean()),
                  'final_kl_se': float(final_S.std(ddof=1) / np.sqrt(S)) if S > 1 else 0.0})
    if (agent, 'passive') in kl_curves:
      entry.update(_versus_passive(queries, kl_SxR, *kl_curves[(agent, 'passive')], rng,
                                   num_bootstrap))
  return summary


def _versus_passive(queries_R, kl_SxR, p_queries_R, p_kl_SxR, rng, num_bootstrap) -> dict:
  """Queries to reach passive's final mean KL, and passive's queries over them (the ratio)."""

  def needed(kl_SxR, p_kl_SxR):
    target = p_kl_SxR[:, -1].mean()
    mine = queries_to_reach(queries_R, kl_SxR.mean(0), target)
    theirs = queries_to_reach(p_queries_R, p_kl_SxR.mean(0), target)
    return mine, theirs / mine if mine > 0 else float('nan')

  S, P = kl_SxR.shape[0], p_kl_SxR.shape[0]
  q, ratio = needed(kl_SxR, p_kl_SxR)
  boot = np.array([needed(kl_SxR[rng.integers(0, S, S)], p_kl_SxR[rng.integers(0, P, P)])
                   for _ in range(num_bootstrap)])
  finite_ratios = boot[:, 1][np.isfinite(boot[:, 1])]
  return {
      'target_kl': float(p_kl_SxR[:, -1].mean()),
      'queries_to_target': q,
      'queries_to_target_se': float(np.nanstd(boot[:, 0])) if np.any(np.isfinite(boot[:, 0]))
                              else float('nan'),
      'ratio_vs_passive': ratio,
      'ratio_vs_passive_se': float(np.std(finite_ratios)) if finite_ratios.size else float('nan'),
      'ratio_vs_passive_ci90': ([float(x) for x in np.percentile(finite_ratios, [5, 95])]
                                if finite_ratios.size else [float('nan')] * 2),
      'reached_target_fraction_of_resamples': float(np.mean(~np.isnan(boot[:, 0]))),
  }
