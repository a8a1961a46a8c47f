"""Plots from a work directory's `results.csv`: every metric vs. queries, mean +/- 1 s.e.

`queries` (the x axis) is the number of human choices made by a round. Every figure says how many
seeds its curves average ("mean ± 1 s.e. over N seeds"; failed seeds, `rows.failed_seeds`, are
left out and counted). A metric with a target, a `target_<metric>` column (for `coverage_g<g>`:
the mass p* puts on group g's favourites), is drawn as a ratio to it: 1 is p*'s value (the dotted
line), so a small group's curves are not squeezed at the bottom of the axis.

Curves are coloured by strategy, in the order of the config's strategies (the legend's order);
a hyper-parameter sweep's grid points (`passive[learning_rate=0.001]`, `lmrl.hyperparams`) keep
their strategy's colour and differ by line style and marker, as do agent kinds (joint solid,
classic dashed) when a run has both.

Beside one figure per metric: the online KL against a refit's (`plot_learner_lag`, with
`experiment.refit_rounds`) and the realised KL against the posterior's prediction of it
(`plot_calibration`, `predicted_kl`).

Plot functions draw on an `ax` you give them (or a new figure's) and return the figure; nothing
here imports pyplot, so importing lmrl never switches a notebook's matplotlib backend.
"""

import json
import math
import os
import warnings

from matplotlib import figure
import numpy as np

from lmrl import files
from lmrl import hyperparams
from lmrl import rows as rows_lib

# (metric column, y label); coverage_g<g> columns are added per group of the results.
METRICS = (
    ('kl', 'KL(p* || p)'),
    ('tv', 'total variation to p*'),
    ('spread', 'epistemic spread (nats)'),
    ('predicted_kl', "posterior-predicted KL, mean_m KL(p_m || p)"),
    ('spread_error_corr', 'corr(member disagreement, error)'),
    ('disagreement_shown', 'member disagreement on shown responses'),
    ('disagreement_unshown', 'member disagreement on never-shown responses'),
    ('choice_loss', 'held-out choice log-loss'),
)
XLABEL = 'queries (human choices)'
LINESTYLES = ('-', '--', ':', '-.')  # One per grid point (and agent kind), in order.
MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*')  # With a sweep: one per grid point.


def metric_label(metric: str) -> str:
  """The y label of a metric column ('coverage_g1' -> "mass on group 1's favourites")."""
  if metric.startswith('coverage_g'):
    return f"mass on group {metric[len('coverage_g'):]}'s favourites"
  return dict(METRICS).get(metric, metric)


def curve_order(keys, strategies=None) -> list[tuple[str, str]]:
  """(agent, strategy) keys in plotting (and legend) order: by strategy, in the order of
  `strategies` (the config's; default: the keys' own order, which is the config's for the rows
  of a `results.csv`), then by grid point and agent in the keys' order."""
  keys = list(keys)
  first = lambda items: {x: i for i, x in reversed(list(enumerate(items)))}
  bases = list(strategies or ()) + [hyperparams.split_variant(s)[0] for _, s in keys]
  base_rank = first(bases)
  style_rank = first(style_key(k) for k in keys)
  return sorted(keys, key=lambda k: (base_rank[hyperparams.split_variant(k[1])[0]],
                                     style_rank[style_key(k)]))


def style_key(key: tuple[str, str]) -> tuple[str, str]:
  """What a curve's line style and marker tell apart: (agent, grid point label)."""
  agent, strategy = key
  return agent, hyperparams.split_variant(strategy)[1]


def seed_note(num_seeds: dict, num_failed: int = 0) -> str:
  """'mean ± 1 s.e. over 4 seeds' for curves of `num_seeds` ({key: seeds averaged})."""
  counts = sorted(set(num_seeds.values()))
  if not counts:
    note = 'no seeds'
  elif counts == [1]:
    note = '1 seed (no s.e.)'
  else:
    n = str(counts[0]) if len(counts) == 1 else f'{counts[0]}–{counts[-1]}'
    note = f'mean ± 1 s.e. over {n} seeds'
  if num_failed:
    note += f' ({num_failed} failed seed{"s" * (num_failed > 1)} left out)'
  return note


def plot_metric(rows: list[dict], metric: str, ylabel: str | None = None, ax=None, *,
                strategies=None, title: str | None = None,
                ratio: bool = True) -> figure.Figure:
  """One line per (agent, strategy): mean over seeds, shaded +/- one standard error (ddof 1).

  With `ratio` and a `target_<metric>` column, the values are divided by the target (the dotted
  line at 1); otherwise a target is drawn as a dotted line at its value. The axes' title says
  how many seeds the curves average (after `title`, if given). `strategies` orders the curves
  and the legend (default: their order in `rows`) and gives each its colour.
  """
  if ax is None:
    ax = figure.Figure(figsize=(6, 4)).subplots()
  ylabel = ylabel or metric_label(metric)
  curves = rows_lib.curves(rows, metric)
  seen = dict.fromkeys((r['agent'], r['strategy']) for r in rows)  # The rows' (run's) order.
  order = curve_order([k for k in seen if k in curves], strategies)
  # Colours follow `strategies` when given (the same strategy, the same colour in every panel).
  bases = list(dict.fromkeys([*(strategies or ()),
                              *(hyperparams.split_variant(s)[0] for _, s in order)]))
  styles = list(dict.fromkeys(style_key(k) for k in order))
  swept = any(label for _, label in styles)
  agents = {a for a, _ in curves}
  target_col = f'target_{metric}'
  target = rows[0].get(target_col, math.nan) if rows else math.nan
  as_ratio = ratio and math.isfinite(target) and target > 0
  num_seeds = {k: v.shape[0] for k, (_, v) in curves.items()}
  most = max(num_seeds.values(), default=0)
  for key in order:
    queries, values_SxR = curves[key]
    if as_ratio:
      values_SxR = values_SxR / target
    with warnings.catch_warnings():  # A round where a metric is undefined (NaN) for all seeds.
      warnings.simplefilter('ignore', RuntimeWarning)
      mean_R = np.nanmean(values_SxR, axis=0)
      se_R = np.nanstd(values_SxR, axis=0, ddof=1) / np.sqrt(values_SxR.shape[0]) if (
          values_SxR.shape[0] > 1) else np.zeros_like(mean_R)
    agent, strategy = key
    label = strategy if len(agents) == 1 else f'{agent}/{strategy}'
    if num_seeds[key] < most:
      label += f' (n={num_seeds[key]})'
    color = f'C{bases.index(hyperparams.split_variant(strategy)[0]) % 10}'
    s = styles.index(style_key(key))
    ax.plot(queries, mean_R, label=label, color=color, linestyle=LINESTYLES[s % len(LINESTYLES)],
            marker=MARKERS[s % len(MARKERS)] if swept else None, markersize=4,
            markevery=max(1, len(queries) // 8))
    ax.fill_between(queries, mean_R - se_R, mean_R + se_R, alpha=0.2, color=color, linewidth=0)
  if as_ratio:
    ax.axhline(1.0, color='k', linestyle=':', label='p* (target)')
    ylabel = f"{ylabel} / p*'s"
  elif math.isfinite(target):
    ax.axhline(target, color='k', linestyle=':', label='p* (target)')
  failed = sum(len(v) for v in rows_lib.failed_seeds(rows).values())
  note = seed_note(num_seeds, failed)
  ax.set_title(f'{title}\n{note}' if title else note, fontsize=9)
  ax.set_xlabel(XLABEL)
  ax.set_ylabel(ylabel)
  ax.legend(fontsize=8, ncol=2 if len(order) > 8 else 1)
  return ax.figure


def plot_learner_lag(rows: list[dict], strategies=None) -> figure.Figure:
  """The online KL (lines) beside the KL of a refit of the same data from the pre-trained LM
  (`lmrl.refit`; markers joined by dashes, at the refit rounds): the gap is the learner's lag."""
  return _kl_beside(rows, 'refit_kl', strategies, names=('online', 'refit'), marker='o',
                    ylabel='KL(p* || p): online vs. refit of the same data')


def plot_calibration(rows: list[dict], strategies=None) -> figure.Figure:
  """The realised KL(p* || p) (solid) beside the posterior's prediction of it, `predicted_kl`
  (dashed), mean over seeds per strategy: does the agent know what it does not know? A predicted
  KL that collapses while the realised one does not is a posterior that is too sure."""
  fig = _kl_beside(rows, 'predicted_kl', strategies, names=('realised', 'predicted'),
                   ylabel='KL(p* || p): realised vs. posterior-predicted')
  fig.axes[0].set_yscale('log')
  return fig


def _kl_beside(rows: list[dict], metric: str, strategies, *, names: tuple[str, str],
               ylabel: str, marker: str | None = None) -> figure.Figure:
  """Each strategy's mean KL (solid) and mean `metric` (dashed, at the rounds where it is
  defined), in the strategy's colour; `names` label the two."""
  ax = figure.Figure(figsize=(6, 4)).subplots()
  kl, other = rows_lib.curves(rows, 'kl'), rows_lib.curves(rows, metric)
  order = curve_order([k for k in dict.fromkeys((r['agent'], r['strategy']) for r in rows)
                       if k in other], strategies)
  bases = list(dict.fromkeys([*(strategies or ()),
                              *(hyperparams.split_variant(s)[0] for _, s in order)]))
  agents = {a for a, _ in order}
  for key in order:
    color = f'C{bases.index(hyperparams.split_variant(key[1])[0]) % 10}'
    label = key[1] if len(agents) == 1 else f'{key[0]}/{key[1]}'
    with warnings.catch_warnings():  # A round where a metric is undefined for every seed.
      warnings.simplefilter('ignore', RuntimeWarning)
      queries, kl_SxR = kl[key]
      ax.plot(queries, np.nanmean(kl_SxR, axis=0), color=color, label=f'{label} ({names[0]})')
      queries, other_SxR = other[key]
      mean_R = np.nanmean(other_SxR, axis=0)
    done = np.isfinite(mean_R)
    ax.plot(np.asarray(queries)[done], mean_R[done], color=color, linestyle='--', marker=marker,
            label=f'{label} ({names[1]})')
  ax.set_title(seed_note({k: kl[k][1].shape[0] for k in order}).replace('± 1 s.e. ', ''),
               fontsize=9)
  ax.set_xlabel(XLABEL)
  ax.set_ylabel(ylabel)
  ax.legend(fontsize=8, ncol=2 if len(order) > 4 else 1)
  return ax.figure


def save(fig: figure.Figure, path: str) -> None:
  """Writes `fig` as a PNG, whole or not at all."""
  fig.tight_layout()
  with files.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=120, format='png')


def config_strategies(workdir: str) -> tuple[str, ...] | None:
  """The strategies of a work directory's `config.json`, in the config's order (None if none)."""
  try:
    with open(os.path.join(workdir, 'config.json')) as f:
      return tuple(json.load(f)['experiment']['strategies'])
  except (OSError, KeyError, TypeError, ValueError):
    return None


def plot_workdir(workdir: str) -> list[str]:
  """Redraws every plot of a work directory from its `results.csv` (`<metric>_vs_queries.png`);
  returns the paths."""
  rows = rows_lib.read_rows(os.path.join(workdir, 'results.csv'))
  if not rows:
    return []
  strategies = config_strategies(workdir)
  groups = sorted(int(k[len('coverage_g'):]) for k in rows[0] if k.startswith('coverage_g'))
  todo = [m for m, _ in METRICS] + [f'coverage_g{g}' for g in groups]
  paths = []
  for metric in todo:
    if metric in rows[0]:
      paths.append(os.path.join(workdir, f'{metric}_vs_queries.png'))
      save(plot_metric(rows, metric, strategies=strategies), paths[-1])
  if 'refit_kl' in rows[0]:
    paths.append(os.path.join(workdir, 'learner_lag_vs_queries.png'))
    save(plot_learner_lag(rows, strategies), paths[-1])
  if 'predicted_kl' in rows[0]:
    paths.append(os.path.join(workdir, 'calibration_vs_queries.png'))
    save(plot_calibration(rows, strategies), paths[-1])
  return paths
