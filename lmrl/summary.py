"""Summary statistics of a run's curves: choices to close the KL gap, ratios between strategies.

`summarize` works on arrays (`Curves`: one agent/strategy's KL and coverage per seed at its
evaluated rounds, e.g. from `curves_from_metrics`) and gives `summary[agent][strategy]`, a dict of
plain JSON (never NaN or inf: a missing number is None and a `text` field says why):

  failed_seeds, num_seeds, num_seeds_used: seeds marked failed or with a non-finite KL or
    coverage are listed and left out of every statistic. If every seed failed, these fields and
    `note` are all there is.
  final_queries: human choices made by the last evaluated round (the budget).
  final_kl: {mean, se, ci90, ci90_t, num_seeds} of the final KL(p*||p) over seeds (se with
    ddof=1, 0 for one seed; ci90 = 5th and 95th percentiles of the bootstrap mean; ci90_t the
    Student-t interval).
  close_<f%> (e.g. close_80): choices needed to close fraction f of the gap from the pre-trained
    LM's KL to 0, i.e. to reach `target_kl = (1 - f) * pretrained_kl` (one target for every
    strategy), read off the mean-over-seeds KL curve with linear interpolation between evaluated
    rounds: `choices` (None when not reached), `reached`, `reached_fraction` (of bootstrap
    resamples of the seeds whose mean curve reaches it), `ci90` (a resample that does not reach
    counts as +inf; an infinite bound is None), `ci90_bca` (bias-corrected and accelerated,
    `lmrl.bootstrap.bca`), `num_seeds` and `text` (with the seed count; with fewer than 8 seeds
    the BCa interval too).
  close_<f%>_vs_<baseline>: how many times more choices the baseline strategy (same agent) needs
    for the same target: `ratio` = baseline's choices / this strategy's. When the baseline did not
    reach within its budget, `ratio` is None and `lower_bound` = baseline budget / this strategy's
    choices. `ci90` bootstraps the seeds *paired*: both strategies ran on the same seeds (the same
    prompts, priors and bootstrap weights), so each resample draws the same seeds for both
    (`paired` True; False when either strategy lost a seed, and then each is resampled on its
    own). An unreached baseline resample counts as an infinite ratio, an unreached own resample
    as 0, both unreached as undefined: left out, see `defined_fraction`; an infinite bound is
    None. `ci90_bca` is the BCa interval of the paired ratio (jackknife: the same seed left out of
    both). `text` says it in words ('2.1 (90%: 1.7–2.6; 16 seeds, paired)', '0.71 (90%: 0–0.77;
    4 seeds, paired; BCa 0–0.74; this strategy unreached, counted as 0, in 21%)', '>= 3.1
    (uniform did not reach within 1280 choices)', 'not reached').
  worst_group_coverage: per group, the final mean-over-seeds coverage (mass the deployed LM gives
    the group's favourites) over p*'s; `ratio` is the smallest (`worst_group`), with `ci90`.
  auc_log_kl: {mean, se, ci90} over seeds of the mean log KL over the budget (trapezoid area under
    log KL vs. choices, over the final choice count): lower means lower KL sooner.

Every bootstrap resamples seeds with replacement `num_bootstrap` times from one generator seeded
by `seed`, with one draw of resample indices per agent and grid point shared by every strategy
there and all of their statistics (a strategy with a failed seed draws its own), so the summary
is a deterministic function of its inputs. `format_summary` gives one line per strategy.

Many worlds (`world.num_worlds` > 1, `Curves.world_S`): the lanes are (world, seed) pairs and the
bootstrap is hierarchical and paired: each resample draws worlds with replacement, then seeds
within each drawn world, one draw shared by every strategy; the jackknife leaves out a world at a
time; `se` and `ci90_t` are over the worlds' means (W - 1 degrees of freedom). Every ratio adds
`num_worlds` and `worlds_agreeing`: the share of worlds whose own ratio (each world's mean curves)
lies on the same side of 1 as the pooled one. `worst_group_coverage` then averages each lane's
coverage over its own world's p*'s.
"""

import math
from typing import NamedTuple

import numpy as np

from lmrl import bootstrap
from lmrl import files
from lmrl import hyperparams


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
  world_S: np.ndarray | None = None  # int[S]: each lane's world (`world.num_worlds` > 1).


def curves_from_metrics(metrics: dict[str, np.ndarray], queries_per_round: int,
                        evaluated_rounds: list[int], world_S: np.ndarray | None = None
                        ) -> Curves:
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
  return Curves(rounds_R.astype(float) * queries_per_round, kl_SxR, coverage_SxRxG, failed_S,
                world_S)


_KL_FLOOR = 1e-12  # log KL is taken of max(KL, this), so a KL of exactly 0 stays finite.


SMALL_SAMPLE = 8  # Below this many seeds, texts show the BCa interval beside the percentile one.


class _Reach(NamedTuple):
  """What the ratios of other strategies need of one strategy (seeds used only)."""
  choices: dict  # {fraction: float}: choices to the target on the mean curve, NaN if not reached.
  choices_B: dict  # {fraction: float[B]}: the same per bootstrap resample, inf if not reached.
  choices_J: dict  # {fraction: float[S]}: the same with each seed left out, inf if not reached.
  budget: float  # Final query count.
  draw: tuple  # Which shared resample indices it used (equal draws: a paired ratio).
  num_seeds: int  # Seeds used.
  choices_W: dict  # {fraction: float[W]}: the same on each world's mean curve ({} without worlds).


def summarize(curves: dict[tuple[str, str], Curves], *, pretrained_kl: float,
              target_coverage_G: np.ndarray, fractions=(0.5, 0.8, 0.9),
              baselines=('passive', 'uniform', 'boltzmann'), num_bootstrap: int = 500,
              seed: int = 0) -> dict:
  """{agent: {strategy: statistics}} of `curves` keyed by (agent, strategy), in their order; see
  the module doc.

  Plain JSON: no NaN or inf anywhere (None, with a `text` in words, instead).
  """
  rng = np.random.default_rng(seed)
  targets = {f: (1.0 - f) * float(pretrained_kl) for f in fractions}
  summary, reach, shared = {}, {}, {}
  for key in sorted(curves):  # Sorted: the generator's draws go to the same strategy each time.
    agent, strategy = key
    # Strategies of one agent at one grid point ran on the same seeds: one draw for them all.
    world_S = curves[key].world_S
    draw = (agent, hyperparams.split_variant(strategy)[1], np.asarray(curves[key].kl_SxR).shape[0],
            None if world_S is None else tuple(int(w) for w in world_S))
    if draw not in shared:
      shared[draw] = bootstrap.resample_indices(rng, draw[2], num_bootstrap, world_S)
    entry, reach[key] = _summarize_one(curves[key], targets, target_coverage_G, shared[draw],
                                       draw)
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
  # In the order of `curves` (the config's), though drawn in sorted order.
  ordered = {}
  for agent, strategy in curves:
    ordered.setdefault(agent, {})[strategy] = summary[agent][strategy]
  return files.finite_or_none(ordered)  # Already finite; this only makes sure.


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
                   idx_BxS: np.ndarray, draw: tuple) -> tuple[dict, _Reach | None]:
  """(statistics, what ratios need) of one strategy; (failed-seed fields and a note, None) if no
  seed is usable. Resamples with `idx_BxS` (its agent and grid point's shared draw, `draw`); a
  failed seed is left out of every statistic, and out of each resample it is drawn into."""
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
  good_S = ~bad_S
  used_kl_SxR = kl_SxR[good_S]
  num_seeds = used_kl_SxR.shape[0]
  budget = float(queries_R[-1])
  entry['final_queries'] = budget
  world_S = one.world_S
  entry['final_kl'] = bootstrap.mean_stats(kl_SxR[:, -1], idx_BxS, good_S, world_S)
  mean_kl_R = used_kl_SxR.mean(0)
  mean_kl_BxR = bootstrap.resample_means(kl_SxR, idx_BxS, good_S)
  # Each seed left out in turn (of every seed, so that paired strategies leave out the same one).
  # With worlds, each world is left out in turn (the hierarchical bootstrap's units).
  mean_kl_JxR = (bootstrap.resample_means(kl_SxR, bootstrap.jackknife_indices(bad_S.size, world_S),
                                          good_S)
                 if num_seeds > 1 else np.full_like(kl_SxR, np.nan))
  mean_kl_WxR = (np.stack([bootstrap.world_means(kl_R, world_S, good_S) for kl_R in kl_SxR.T], 1)
                 if world_S is not None else np.zeros((0, kl_SxR.shape[1])))
  choices, choices_B, choices_J, choices_W = {}, {}, {}, {}
  reached_or_inf = lambda kl_XxR, target: np.nan_to_num(
      np.array([queries_to_reach(queries_R, kl_R, target) for kl_R in kl_XxR]), nan=np.inf)
  for f, target in targets.items():
    choices[f] = queries_to_reach(queries_R, mean_kl_R, target)
    choices_B[f] = reached_or_inf(mean_kl_BxR, target)
    choices_J[f] = reached_or_inf(mean_kl_JxR, target)
    choices_W[f] = reached_or_inf(mean_kl_WxR, target)
    entry[_close_key(f)] = _closing(choices[f], choices_B[f], choices_J[f], target, budget,
                                    num_seeds)
  entry['worst_group_coverage'] = _worst_group(coverage_SxRxG[:, -1], target_coverage_G, idx_BxS,
                                               good_S)
  entry['auc_log_kl'] = _auc_log_kl(queries_R, kl_SxR, idx_BxS, good_S, world_S)
  if world_S is not None:
    entry['num_worlds'] = int(np.unique(world_S).size)
  return entry, _Reach(choices, choices_B, choices_J, budget, draw, num_seeds,
                       choices_W if world_S is not None else {})


def _close_key(fraction: float) -> str:
  return f'close_{int(round(fraction * 100))}'


def _seeds(num_seeds: int, paired: bool | None = None) -> str:
  """'16 seeds', '4 seeds, paired', '1 seed'."""
  text = f'{num_seeds} seed{"s" if num_seeds != 1 else ""}'
  return text + (', paired' if paired else '')


def _bca_text(num_seeds: int, lo: float, hi: float, fmt) -> str:
  """'; BCa a–b' with fewer than `SMALL_SAMPLE` seeds (and a defined interval), else ''."""
  if num_seeds >= SMALL_SAMPLE or math.isnan(lo) or math.isnan(hi):
    return ''
  return f'; BCa {fmt(lo)}–{fmt(hi)}'


def _closing(choices: float, choices_B: np.ndarray, choices_J: np.ndarray, target: float,
             budget: float, num_seeds: int) -> dict:
  """Choices to `target` (NaN: not reached) with its bootstrap (`choices_B`, inf: not reached)
  and jackknife (`choices_J`)."""
  reached = math.isfinite(choices)
  lo, hi = bootstrap.percentiles(choices_B)
  bca_lo, bca_hi = bootstrap.bca(choices, choices_B, choices_J)
  fraction = bootstrap.fraction(np.isfinite(choices_B))
  if reached:
    text = (f'{_count(choices)} (90%: {_count(lo)}–{_count(hi)}; {_seeds(num_seeds)}'
            f'{_bca_text(num_seeds, bca_lo, bca_hi, _count)})')
    if fraction is not None and fraction < 1:
      text += f', reached in {_percent(fraction)} of resamples'
  else:
    text = f'not reached within {_count(budget)} choices'
    if fraction is not None:
      text += f' (reached in {_percent(fraction)} of resamples; {_seeds(num_seeds)})'
  return {'target_kl': target, 'choices': choices if reached else None, 'reached': reached,
          'reached_fraction': fraction, 'ci90': bootstrap.finite_interval(lo, hi),
          'ci90_bca': bootstrap.finite_interval(bca_lo, bca_hi), 'num_seeds': int(num_seeds),
          'text': text}


def _versus(mine: _Reach, base: _Reach | None, fraction: float, baseline: str) -> dict:
  """Baseline's choices over mine for one target, with a bootstrap of both strategies' seeds."""
  if base is None:
    return {'ratio': None, 'lower_bound': None, 'ci90': [None, None], 'defined_fraction': None,
            'text': f'every seed of {baseline} failed'}
  paired = mine.draw == base.draw
  num_seeds = mine.num_seeds
  ratio_B = bootstrap.ratio(base.choices_B[fraction], mine.choices_B[fraction])
  defined_B = ~np.isnan(ratio_B)
  lo, hi = bootstrap.percentiles(ratio_B[defined_B])
  bca_lo = bca_hi = float('nan')
  out = {'ratio': None, 'lower_bound': None, 'ci90': bootstrap.finite_interval(lo, hi),
         'ci90_bca': [None, None], 'defined_fraction': bootstrap.fraction(defined_B),
         'paired': paired, 'num_seeds': int(num_seeds)}
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
    out['ratio'] = float(bootstrap.ratio(np.array(base_choices), np.array(choices)))
    if paired:  # The jackknife leaves the same seed out of both strategies.
      bca_lo, bca_hi = bootstrap.bca(out['ratio'], ratio_B, bootstrap.ratio(
          base.choices_J[fraction], mine.choices_J[fraction]))
      out['ci90_bca'] = bootstrap.finite_interval(bca_lo, bca_hi)
    out['text'] = (f'{_times(out["ratio"])} (90%: {_times(lo)}–{_times(hi)}; '
                   f'{_seeds(num_seeds, paired)}{_bca_text(num_seeds, bca_lo, bca_hi, _times)}')
    if out['defined_fraction'] is not None and out['defined_fraction'] < 1:
      out['text'] += f', defined in {_percent(out["defined_fraction"])} of resamples'
    unreached = bootstrap.fraction(~np.isfinite(mine.choices_B[fraction]))
    if unreached:  # Their ratio is below baseline / budget, and counts as 0.
      out['text'] += f'; this strategy unreached, counted as 0, in {_percent(unreached)}'
    out['text'] += ')'
  if mine.choices_W and base.choices_W and paired:
    ratio_W = bootstrap.ratio(base.choices_W[fraction], mine.choices_W[fraction])
    defined_W = ~np.isnan(ratio_W)
    side = (out['ratio'] or out['lower_bound'] or 0.0) >= 1
    agree_W = (ratio_W > 1) if side else (ratio_W < 1)
    out['num_worlds'] = int(ratio_W.size)
    out['worlds_agreeing'] = bootstrap.fraction(agree_W[defined_W])
    if defined_W.any() and (out['ratio'] is not None or out['lower_bound'] is not None):
      out['text'] += (f'; {int(agree_W[defined_W].sum())}/{int(defined_W.sum())} worlds '
                      f'{"above" if side else "below"} 1')
  return out


def _worst_group(coverage_SxG: np.ndarray, target_coverage_G: np.ndarray,
                 idx_BxS: np.ndarray, good_S: np.ndarray) -> dict:
  """Smallest ratio of mean final coverage over p*'s, over groups with a positive target."""
  target_G = np.asarray(target_coverage_G, dtype=float)
  if target_G.ndim == 2:  # Per lane (lanes in worlds): each lane's coverage over its own p*'s.
    with np.errstate(invalid='ignore', divide='ignore'):
      return _worst_group(coverage_SxG / target_G, np.where(target_G > 0, 1.0, 0.0).min(0),
                          idx_BxS, good_S)
  if target_G.shape != coverage_SxG.shape[1:]:
    raise ValueError(f'{target_G.shape[0]} target coverages for {coverage_SxG.shape[1]} groups')
  valid_G = np.isfinite(target_G) & (target_G > 0)
  if not valid_G.any():
    return {'ratio': None, 'worst_group': None, 'per_group_ratio': [None] * target_G.size,
            'ci90': [None, None], 'text': 'no group with a positive target coverage'}
  ratio_G = np.full(target_G.shape, np.nan)
  num_seeds = int(np.sum(good_S))
  ratio_G[valid_G] = coverage_SxG[good_S][:, valid_G].mean(0) / target_G[valid_G]
  group = int(np.nanargmin(ratio_G))
  min_B = (bootstrap.resample_means(coverage_SxG[:, valid_G], idx_BxS, good_S)
           / target_G[valid_G]).min(1)
  lo, hi = bootstrap.percentiles(min_B[~np.isnan(min_B)])
  return {'ratio': float(ratio_G[group]), 'worst_group': group,
          'per_group_ratio': [bootstrap.finite(r) for r in ratio_G],
          'ci90': bootstrap.finite_interval(lo, hi), 'num_seeds': num_seeds,
          'text': f'{ratio_G[group]:.3g} (group {group}; 90%: {lo:.3g}–{hi:.3g}; '
                  f'{_seeds(num_seeds)})'}


def _auc_log_kl(queries_R: np.ndarray, kl_SxR: np.ndarray, idx_BxS: np.ndarray,
                good_S: np.ndarray, world_S: np.ndarray | None = None) -> dict:
  """Mean over the good seeds of (trapezoid area under log KL vs. choices) / final choices."""
  if queries_R[-1] <= 0:
    return {'mean': None, 'se': None, 'ci90': [None, None], 'text': 'no choices were made'}
  log_kl_SxR = np.log(np.maximum(kl_SxR, _KL_FLOOR))
  area_S = (0.5 * (log_kl_SxR[:, 1:] + log_kl_SxR[:, :-1]) * np.diff(queries_R)).sum(1)
  return bootstrap.mean_stats(area_S / queries_R[-1], idx_BxS, good_S, world_S)


def learner_lag(metrics: dict[str, np.ndarray], queries_per_round: int) -> dict:
  """The online learner's lag behind a refit of the same data (`lmrl.refit`), per refit round.

  `metrics` are one grid point's arrays ([S, T+1]) with `kl` and `refit_kl` (finite at the
  refit rounds), and `refit_steps` where the run has it. Returns {'rounds': [{round, queries,
  online_kl, refit_kl, lag, lag_fraction, num_seeds, refit_steps (mean)}], 'final': the last of them, 'text'}: means over the seeds where both are finite;
  `lag = online_kl - refit_kl` (>0: the learner has not caught up with its data) and
  `lag_fraction = lag / online_kl`.
  """
  kl_SxT, refit_SxT = np.asarray(metrics['kl'], float), np.asarray(metrics['refit_kl'], float)
  out = []
  for r in np.flatnonzero(np.isfinite(refit_SxT).any(0)):
    ok_S = np.isfinite(kl_SxT[:, r]) & np.isfinite(refit_SxT[:, r])
    online, refit = kl_SxT[ok_S, r].mean(), refit_SxT[ok_S, r].mean()
    out.append({'round': int(r), 'queries': int(r * queries_per_round),
                'online_kl': float(online), 'refit_kl': float(refit),
                'lag': float(online - refit), 'lag_fraction': float((online - refit) / online),
                'num_seeds': int(ok_S.sum())})
    if 'refit_steps' in metrics:  # The steps the refit's stopping rule chose (runs since it).
      out[-1]['refit_steps'] = float(np.asarray(metrics['refit_steps'], float)[ok_S, r].mean())
  if not out:
    return {'rounds': [], 'final': None, 'text': 'no refit'}
  last = out[-1]
  text = (f'online KL {last["online_kl"]:.4g}, refit {last["refit_kl"]:.4g}: lag '
          f'{last["lag"]:.3g} ({last["lag_fraction"]:.0%} of the online KL) at '
          f'{last["queries"]} choices; {_seeds(last["num_seeds"])}')
  return files.finite_or_none({'rounds': out, 'final': last, 'text': text})


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
  return _number(x, 'not reached', digits=3)


def _times(x: float) -> str:
  """A ratio in words: '2.1', '12', 'unbounded' (inf), 'n/a' (NaN)."""
  return _number(x, 'unbounded', digits=2)


def _number(x: float, infinite: str, digits: int) -> str:
  """`x` with no decimals from 100 up, else `digits` significant ones; `infinite` for inf."""
  if math.isnan(x):
    return 'n/a'
  if math.isinf(x):
    return infinite
  return f'{x:.0f}' if abs(x) >= 100 else f'{x:.{digits}g}'
