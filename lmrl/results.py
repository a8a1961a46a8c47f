"""Result files (long-format rows, written atomically) and summary statistics of the curves.

`results.csv` has one row per (agent, strategy, seed, evaluated round) with the columns
`agent, strategy, [swept hyper-parameters,] seed, round, queries, kl, tv, choice_loss, spread,
coverage_g<g>` (a hyper-parameter sweep names a grid point's strategy `passive[learning_rate=0.001]`
and adds a column per swept name: `lmrl.hyperparams`),
`target_coverage_g<g>` (what `p*` gives group g's favourites) and `failed` (1 once the seed's
loss or metrics have been NaN or inf). Round 0 is the pre-trained LM.

Every file is written whole, once, under a temporary name and then renamed (`write_atomic`), so
a killed process leaves either the previous file or the new one, never half of one.

`summarize` works on arrays (`Curves`: one agent/strategy's KL and coverage per seed at its
evaluated rounds, e.g. from `curves_from_metrics`) and gives `summary[agent][strategy]`, a dict of
plain JSON (never NaN or inf: a missing number is None and a `text` field says why):

  failed_seeds, num_seeds, num_seeds_used: seeds marked failed or with a non-finite KL or
    coverage are listed and left out of every statistic. If every seed failed, these fields and
    `note` are all there is.
  final_queries: human choices made by the last evaluated round (the budget).
  final_kl: {mean, se, ci90} of the final KL(p*||p) over seeds (se with ddof=1, 0 for one seed;
    ci90 = 5th and 95th percentiles of the bootstrap mean).
  close_<f%> (e.g. close_80): choices needed to close fraction f of the gap from the pre-trained
    LM's KL to 0, i.e. to reach `target_kl = (1 - f) * pretrained_kl` (one target for every
    strategy), read off the mean-over-seeds KL curve with linear interpolation between evaluated
    rounds: `choices` (None when not reached), `reached`, `reached_fraction` (of bootstrap
    resamples of the seeds whose mean curve reaches it), `ci90` (a resample that does not reach
    counts as +inf; an infinite bound is None) and `text`.
  close_<f%>_vs_<baseline>: how many times more choices the baseline strategy (same agent) needs
    for the same target: `ratio` = baseline's choices / this strategy's. When the baseline did not
    reach within its budget, `ratio` is None and `lower_bound` = baseline budget / this strategy's
    choices. `ci90` bootstraps both strategies' seeds independently (an unreached baseline
    resample counts as an infinite ratio, an unreached own resample as 0, both unreached as
    undefined: left out, see `defined_fraction`; an infinite bound is None). `text` says it in
    words ('2.1 (90%: 1.7–2.6)', '0.71 (90%: 0–0.77; this strategy unreached, counted as 0, in
    21%)', '>= 3.1 (uniform did not reach within 1280 choices)',
    'not reached').
  worst_group_coverage: per group, the final mean-over-seeds coverage (mass the deployed LM gives
    the group's favourites) over p*'s; `ratio` is the smallest (`worst_group`), with `ci90`.
  auc_log_kl: {mean, se, ci90} over seeds of the mean log KL over the budget (trapezoid area under
    log KL vs. choices, over the final choice count): lower means lower KL sooner.

Every bootstrap resamples seeds with replacement `num_bootstrap` times from one generator seeded
by `seed`, with one draw of resample indices per strategy shared by all of its statistics, so the
summary is a deterministic function of its inputs. `format_summary` gives one line per strategy.
"""

import contextlib
import csv
import io
import json
import math
import os
from typing import NamedTuple

import numpy as np

from lmrl import hyperparams
from lmrl import world as world_lib

BASE_COLUMNS = ('agent', 'strategy', 'seed', 'round', 'queries')


def metric_rows(agent: str, strategy: str, metrics: dict[str, np.ndarray],
                target_coverage_G: np.ndarray, queries_per_round: int,
                rounds: list[int], hparams: dict[str, float] | None = None) -> list[dict]:
  """Rows for every seed and each of `rounds` (the evaluated ones) of `metrics` ([S, R, ...]).

  `hparams` (a grid point of a hyper-parameter sweep, `lmrl.hyperparams`) become columns.
  """
  rows = []
  for s in range(np.asarray(metrics['kl']).shape[0]):
    for r in rounds:
      row = {'agent': agent, 'strategy': strategy, **(hparams or {}), 'seed': s, 'round': r,
             'queries': r * queries_per_round}
      for name, value in metrics.items():
        value = np.asarray(value[s, r])
        if name == 'failed':  # 1 from the round the seed failed on.
          row[name] = int(value > 0)
        elif value.ndim == 0:
          row[name] = float(value)
        else:
          for g, v in enumerate(value):
            row[f'{name.removesuffix("_G")}_g{g}'] = float(v)
      for g, v in enumerate(np.asarray(target_coverage_G)):
        row[f'target_coverage_g{g}'] = float(v)
      rows.append(row)
  return rows


def shown_queries(buffer, favourites_GxPxN: np.ndarray, vocab_size: int,
                  queries_per_round: int) -> dict[str, np.ndarray]:
  """What each seed was shown and how it was ranked, from its final choice buffer.

  `buffer` is a `ChoiceBuffer` of host arrays with a leading seed axis ([S, H, ...]); row h was
  shown in round h // B + 1. Returns int32 `prompts_SxHxLx`, `responses_SxHxKxLy`,
  `ranking_SxHxK` (positions of the shown responses, best first), `prompt_index_SxH`,
  `response_index_SxHxK` (indices into the world's enumerated prompts and responses),
  `round_H`, bool `valid_SxH`, and `shows_favourite_SxHxG`: whether the shown responses include
  one of group g's favourites for that prompt.
  """
  prompt_SxH = np.asarray(world_lib.sequence_index(buffer.prompts_HxLx, vocab_size))
  response_SxHxK = np.asarray(world_lib.sequence_index(buffer.responses_HxKxLy, vocab_size))
  favourite_GxSxHxK = np.asarray(favourites_GxPxN)[:, prompt_SxH[..., None], response_SxHxK]
  H = prompt_SxH.shape[1]
  return {'prompts_SxHxLx': np.asarray(buffer.prompts_HxLx, np.int32),
          'responses_SxHxKxLy': np.asarray(buffer.responses_HxKxLy, np.int32),
          'ranking_SxHxK': np.asarray(buffer.ranking_HxK, np.int32),
          'prompt_index_SxH': prompt_SxH, 'response_index_SxHxK': response_SxHxK,
          'round_H': (np.arange(H) // queries_per_round + 1).astype(np.int32),
          'valid_SxH': np.asarray(buffer.valid_H, bool),
          'shows_favourite_SxHxG': np.moveaxis(favourite_GxSxHxK.any(-1), 0, -1)}


def shown_favourites(shown: dict[str, np.ndarray]) -> list[float]:
  """Per group, the fraction of shown queries (all seeds and rounds) with one of its favourites."""
  valid = shown['valid_SxH']
  return [float(x) for x in shown['shows_favourite_SxHxG'][valid].mean(0)]


@contextlib.contextmanager
def atomic_path(path: str):
  """Yields a temporary path to write `path`'s whole content to; renamed to `path` on success."""
  tmp = f'{path}.tmp{os.getpid()}'
  try:
    yield tmp
    os.replace(tmp, path)
  except OSError as error:
    if error.filename is None:  # A failed write (e.g. a full disk) names no file: name it.
      raise OSError(error.errno, error.strerror, path) from error
    raise
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


class Curves(NamedTuple):
  """One agent/strategy's metrics at its evaluated rounds."""
  queries_R: np.ndarray  # float[R]: human choices so far at each evaluated round (R[0] = 0).
  kl_SxR: np.ndarray  # float[S, R]: KL(p*||p) of the deployed LM, per seed.
  coverage_SxRxG: np.ndarray  # float[S, R, G]: mass the deployed LM gives each group's favourites.
  failed_S: np.ndarray  # bool[S]: seed had a non-finite loss/metric at some round.


def curves_from_metrics(metrics: dict[str, np.ndarray], queries_per_round: int,
                        evaluated_rounds: list[int]) -> Curves:
  """`Curves` at `evaluated_rounds` of a sweep's metrics (`kl` [S, T+1], `coverage_G` [S, T+1, G],
  `failed` [S, T+1], 1.0 where failed; NaN on rounds not evaluated).

  A seed failed if `failed` is positive at any round or its KL is non-finite at an evaluated one.
  """
  rounds_R = np.asarray(evaluated_rounds, dtype=int)
  kl_SxR = np.asarray(metrics['kl'], dtype=float)[:, rounds_R]
  if 'coverage_G' in metrics:
    coverage_SxRxG = np.asarray(metrics['coverage_G'], dtype=float)[:, rounds_R]
  else:
    coverage_SxRxG = np.zeros(kl_SxR.shape + (0,))
  failed_S = ~np.all(np.isfinite(kl_SxR), axis=1)
  if 'failed' in metrics:
    failed_S |= np.any(np.asarray(metrics['failed'], dtype=float) > 0, axis=1)  # NaN > 0 is False.
  return Curves(rounds_R.astype(float) * queries_per_round, kl_SxR, coverage_SxRxG, failed_S)


_KL_FLOOR = 1e-12  # log KL is taken of max(KL, this), so a KL of exactly 0 stays finite.


class _Reach(NamedTuple):
  """What the ratios of other strategies need of one strategy (seeds used only)."""
  choices: dict  # {fraction: float}: choices to the target on the mean curve, NaN if not reached.
  choices_B: dict  # {fraction: float[B]}: the same per bootstrap resample, inf if not reached.
  budget: float  # Final query count.


def summarize(curves: dict[tuple[str, str], Curves], *, pretrained_kl: float,
              target_coverage_G: np.ndarray, fractions=(0.5, 0.8, 0.9),
              baselines=('passive', 'uniform', 'boltzmann'), num_bootstrap: int = 500,
              seed: int = 0) -> dict:
  """{agent: {strategy: statistics}} of `curves` keyed by (agent, strategy); see the module doc.

  Plain JSON: no NaN or inf anywhere (None, with a `text` in words, instead).
  """
  rng = np.random.default_rng(seed)
  targets = {f: (1.0 - f) * float(pretrained_kl) for f in fractions}
  summary, reach = {}, {}
  for key in sorted(curves):  # Sorted: the generator's draws go to the same strategy each time.
    agent, strategy = key
    entry, reach[key] = _summarize_one(curves[key], targets, target_coverage_G, rng,
                                       num_bootstrap)
    summary.setdefault(agent, {})[strategy] = entry
  for (agent, strategy), mine in reach.items():
    if mine is None:
      continue
    plain, point = hyperparams.split_variant(strategy)  # Baselines at the same grid point.
    for baseline in baselines:
      if baseline == plain or (agent, baseline + point) not in curves:
        continue
      for f in fractions:
        summary[agent][strategy][f'{_close_key(f)}_vs_{baseline}'] = _versus(
            mine, reach[(agent, baseline + point)], f, baseline)
  return _finite_or_none(summary)  # Already finite; this only makes sure.


def format_summary(summary: dict) -> list[str]:
  """One line per (agent, strategy): final KL, choices to close 50% and 80% of the KL gap, the
  80% ratios vs. passive and uniform, and the worst group's coverage ratio."""
  lines = []
  for agent, strategies in summary.items():
    for strategy, entry in strategies.items():
      name = f'{agent}/{strategy}'
      failed = entry['failed_seeds']
      if 'final_kl' not in entry:
        lines.append(f'{name}: {entry.get("note", "no statistics")} (seeds {failed})')
        continue
      kl = entry['final_kl']
      parts = [f'final KL {kl["mean"]:.4g} ± {kl["se"]:.2g} '
               f'({entry["num_seeds_used"]}/{entry["num_seeds"]} seeds'
               + (f', failed: {failed})' if failed else ')')]
      parts += [f'{key}: {entry[key]["text"]}' for key in ('close_50', 'close_80') if key in entry]
      parts += [f'vs {b} at 80%: {entry[f"close_80_vs_{b}"]["text"]}'
                for b in ('passive', 'uniform') if f'close_80_vs_{b}' in entry]
      parts.append(f'worst-group coverage {entry["worst_group_coverage"]["text"]}')
      lines.append(f'{name}: ' + '; '.join(parts))
  return lines


def _summarize_one(one: Curves, targets: dict, target_coverage_G: np.ndarray,
                   rng: np.random.Generator, num_bootstrap: int) -> tuple[dict, _Reach | None]:
  """(statistics, what ratios need) of one strategy; (failed-seed fields and a note, None) if no
  seed is usable."""
  queries_R = np.asarray(one.queries_R, dtype=float)
  kl_SxR = np.asarray(one.kl_SxR, dtype=float)
  coverage_SxRxG = np.asarray(one.coverage_SxRxG, dtype=float)
  if kl_SxR.shape[1] != queries_R.shape[0] or coverage_SxRxG.shape[:2] != kl_SxR.shape:
    raise ValueError(f'shapes disagree: queries {queries_R.shape}, kl {kl_SxR.shape}, '
                     f'coverage {coverage_SxRxG.shape}')
  bad_S = (np.asarray(one.failed_S, dtype=bool) | ~np.all(np.isfinite(kl_SxR), axis=1)
           | ~np.all(np.isfinite(coverage_SxRxG), axis=(1, 2)))
  entry = {'num_seeds': int(bad_S.size), 'num_seeds_used': int((~bad_S).sum()),
           'failed_seeds': [int(s) for s in np.nonzero(bad_S)[0]]}
  if bad_S.all():
    entry['note'] = 'every seed failed'
    return entry, None
  kl_SxR, coverage_SxRxG = kl_SxR[~bad_S], coverage_SxRxG[~bad_S]
  num_seeds = kl_SxR.shape[0]
  idx_BxS = rng.integers(0, num_seeds, size=(num_bootstrap, num_seeds))
  budget = float(queries_R[-1])
  entry['final_queries'] = budget
  entry['final_kl'] = _mean_stats(kl_SxR[:, -1], idx_BxS)
  mean_kl_R, mean_kl_BxR = kl_SxR.mean(0), kl_SxR[idx_BxS].mean(1)
  choices, choices_B = {}, {}
  for f, target in targets.items():
    choices[f] = queries_to_reach(queries_R, mean_kl_R, target)
    choices_B[f] = np.array([queries_to_reach(queries_R, kl_R, target) for kl_R in mean_kl_BxR])
    choices_B[f][np.isnan(choices_B[f])] = np.inf
    entry[_close_key(f)] = _closing(choices[f], choices_B[f], target, budget)
  entry['worst_group_coverage'] = _worst_group(coverage_SxRxG[:, -1], target_coverage_G, idx_BxS)
  entry['auc_log_kl'] = _auc_log_kl(queries_R, kl_SxR, idx_BxS)
  return entry, _Reach(choices, choices_B, budget)


def _close_key(fraction: float) -> str:
  return f'close_{int(round(fraction * 100))}'


def _closing(choices: float, choices_B: np.ndarray, target: float, budget: float) -> dict:
  """Choices to `target` (NaN: not reached) with its bootstrap (`choices_B`, inf: not reached)."""
  reached = math.isfinite(choices)
  lo, hi = _percentiles(choices_B)
  fraction = _fraction(np.isfinite(choices_B))
  if reached:
    text = f'{_count(choices)} (90%: {_count(lo)}–{_count(hi)})'
    if fraction is not None and fraction < 1:
      text += f', reached in {_percent(fraction)} of resamples'
  else:
    text = f'not reached within {_count(budget)} choices'
    if fraction is not None:
      text += f' (reached in {_percent(fraction)} of resamples)'
  return {'target_kl': target, 'choices': choices if reached else None, 'reached': reached,
          'reached_fraction': fraction, 'ci90': [_finite(lo), _finite(hi)], 'text': text}


def _versus(mine: _Reach, base: _Reach | None, fraction: float, baseline: str) -> dict:
  """Baseline's choices over mine for one target, with a bootstrap of both strategies' seeds."""
  if base is None:
    return {'ratio': None, 'lower_bound': None, 'ci90': [None, None], 'defined_fraction': None,
            'text': f'every seed of {baseline} failed'}
  ratio_B = _ratio(base.choices_B[fraction], mine.choices_B[fraction])
  defined_B = ~np.isnan(ratio_B)
  lo, hi = _percentiles(ratio_B[defined_B])
  out = {'ratio': None, 'lower_bound': None, 'ci90': [_finite(lo), _finite(hi)],
         'defined_fraction': _fraction(defined_B)}
  choices, base_choices = mine.choices[fraction], base.choices[fraction]
  if not math.isfinite(choices):
    out['text'] = 'not reached'
  elif not math.isfinite(base_choices):
    why = f'{baseline} did not reach within {_count(base.budget)} choices'
    if choices > 0:
      out['lower_bound'] = base.budget / choices
      out['text'] = f'>= {_times(out["lower_bound"])} ({why})'
    else:
      out['text'] = f'reached at 0 choices ({why})'
  elif choices == 0 and base_choices > 0:
    out['text'] = f'reached at 0 choices ({baseline} at {_count(base_choices)})'
  else:
    out['ratio'] = float(_ratio(np.array(base_choices), np.array(choices)))
    out['text'] = f'{_times(out["ratio"])} (90%: {_times(lo)}–{_times(hi)}'
    if out['defined_fraction'] is not None and out['defined_fraction'] < 1:
      out['text'] += f', defined in {_percent(out["defined_fraction"])} of resamples'
    unreached = _fraction(~np.isfinite(mine.choices_B[fraction]))
    if unreached:  # Their ratio is below baseline / budget, and counts as 0.
      out['text'] += f'; this strategy unreached, counted as 0, in {_percent(unreached)}'
    out['text'] += ')'
  return out


def _ratio(base: np.ndarray, mine: np.ndarray) -> np.ndarray:
  """base / mine, inf meaning not reached: inf/x = inf, x/inf = 0, inf/inf = NaN, 0/0 = 1."""
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.where((base == 0) & (mine == 0), 1.0, base / mine)


def _worst_group(coverage_SxG: np.ndarray, target_coverage_G: np.ndarray,
                 idx_BxS: np.ndarray) -> dict:
  """Smallest ratio of mean final coverage over p*'s, over groups with a positive target."""
  target_G = np.asarray(target_coverage_G, dtype=float)
  if target_G.shape != coverage_SxG.shape[1:]:
    raise ValueError(f'{target_G.shape[0]} target coverages for {coverage_SxG.shape[1]} groups')
  valid_G = np.isfinite(target_G) & (target_G > 0)
  if not valid_G.any():
    return {'ratio': None, 'worst_group': None, 'per_group_ratio': [None] * target_G.size,
            'ci90': [None, None], 'text': 'no group with a positive target coverage'}
  ratio_G = np.full(target_G.shape, np.nan)
  ratio_G[valid_G] = coverage_SxG[:, valid_G].mean(0) / target_G[valid_G]
  group = int(np.nanargmin(ratio_G))
  min_B = (coverage_SxG[idx_BxS][:, :, valid_G].mean(1) / target_G[valid_G]).min(1)
  lo, hi = _percentiles(min_B)
  return {'ratio': float(ratio_G[group]), 'worst_group': group,
          'per_group_ratio': [_finite(r) for r in ratio_G], 'ci90': [_finite(lo), _finite(hi)],
          'text': f'{ratio_G[group]:.3g} (group {group}; 90%: {lo:.3g}–{hi:.3g})'}


def _auc_log_kl(queries_R: np.ndarray, kl_SxR: np.ndarray, idx_BxS: np.ndarray) -> dict:
  """Mean over seeds of (trapezoid area under log KL vs. choices) / final choices."""
  if queries_R[-1] <= 0:
    return {'mean': None, 'se': None, 'ci90': [None, None], 'text': 'no choices were made'}
  log_kl_SxR = np.log(np.maximum(kl_SxR, _KL_FLOOR))
  area_S = (0.5 * (log_kl_SxR[:, 1:] + log_kl_SxR[:, :-1]) * np.diff(queries_R)).sum(1)
  return _mean_stats(area_S / queries_R[-1], idx_BxS)


def _mean_stats(values_S: np.ndarray, idx_BxS: np.ndarray) -> dict:
  """{mean, se (ddof=1; 0 for one seed), ci90 of the bootstrap mean} of finite values."""
  num_seeds = values_S.shape[0]
  se = float(values_S.std(ddof=1) / np.sqrt(num_seeds)) if num_seeds > 1 else 0.0
  lo, hi = _percentiles(values_S[idx_BxS].mean(1))
  return {'mean': float(values_S.mean()), 'se': se, 'ci90': [_finite(lo), _finite(hi)]}


def _percentiles(values_B: np.ndarray, q=(5.0, 95.0)) -> tuple[float, ...]:
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


def _fraction(mask_B: np.ndarray) -> float | None:
  return float(mask_B.mean()) if mask_B.size else None


def _finite(x: float) -> float | None:
  return float(x) if math.isfinite(x) else None


def _percent(fraction: float) -> str:
  """'83%', never '100%' or '0%' for a fraction that is not exactly 1 or 0."""
  text = f'{fraction:.0%}'
  if text == '100%' and fraction < 1:
    return '>99%'
  if text == '0%' and fraction > 0:
    return '<1%'
  return text


def _count(x: float) -> str:
  """A choice count in words: '412', '2.5', 'not reached' (inf), 'n/a' (NaN)."""
  if math.isnan(x):
    return 'n/a'
  if math.isinf(x):
    return 'not reached'
  return f'{x:.0f}' if abs(x) >= 100 else f'{x:.3g}'


def _times(x: float) -> str:
  """A ratio in words: '2.1', '12', 'unbounded' (inf), 'n/a' (NaN)."""
  if math.isnan(x):
    return 'n/a'
  if math.isinf(x):
    return 'unbounded'
  return f'{x:.0f}' if abs(x) >= 100 else f'{x:.2g}'
