"""Plots from a work directory's `results.csv`: every metric vs. human choices, mean +/- s.e.

Plot functions draw on an `ax` you give them (or a new figure's) and return the figure; nothing
here imports pyplot, so importing lmrl never switches a notebook's matplotlib backend.
"""

import os
import warnings

from matplotlib import figure
import numpy as np

from lmrl import results

# (metric column, y label); coverage_g<g> columns are added per group of the results.
METRICS = (
    ('kl', 'KL(p* || p)'),
    ('tv', 'total variation to p*'),
    ('spread', 'epistemic spread (nats)'),
    ('spread_error_corr', 'corr(member disagreement, error)'),
    ('disagreement_shown', 'member disagreement on shown responses'),
    ('disagreement_unshown', 'member disagreement on never-shown responses'),
    ('choice_loss', 'held-out choice log-loss'),
)


def plot_metric(rows: list[dict], metric: str, ylabel: str, ax=None) -> figure.Figure:
  """One line per (agent, strategy): mean over seeds, shaded +/- one standard error (ddof 1).

  A `target_<metric>` column (e.g. what p* gives a group's favourites) is drawn as a dotted line.
  """
  if ax is None:
    ax = figure.Figure(figsize=(6, 4)).subplots()
  curves = results.curves(rows, metric)
  agents = {a for a, _ in curves}
  for (agent, strategy), (queries, values_SxR) in curves.items():
    with warnings.catch_warnings():  # A round where a metric is undefined (NaN) for all seeds.
      warnings.simplefilter('ignore', RuntimeWarning)
      mean_R = np.nanmean(values_SxR, axis=0)
      se_R = np.nanstd(values_SxR, axis=0, ddof=1) / np.sqrt(values_SxR.shape[0]) if (
          values_SxR.shape[0] > 1) else np.zeros_like(mean_R)
    label = strategy if len(agents) == 1 else f'{agent}/{strategy}'
    line, = ax.plot(queries, mean_R, label=label, linestyle='-' if agent == 'joint' else '--')
    ax.fill_between(queries, mean_R - se_R, mean_R + se_R, alpha=0.2, color=line.get_color())
  target_col = f'target_{metric}'
  if rows and target_col in rows[0]:
    ax.axhline(rows[0][target_col], color='k', linestyle=':', label='p* (target)')
  ax.set_xlabel('human choices')
  ax.set_ylabel(ylabel)
  ax.legend(fontsize=8)
  return ax.figure


def save(fig: figure.Figure, path: str) -> None:
  """Writes `fig` as a PNG, whole or not at all."""
  fig.tight_layout()
  with results.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=120, format='png')


def plot_workdir(workdir: str) -> list[str]:
  """Redraws every plot of a work directory from its `results.csv`; returns the paths."""
  rows = results.read_rows(os.path.join(workdir, 'results.csv'))
  if not rows:
    return []
  groups = sorted(int(k[len('coverage_g'):]) for k in rows[0] if k.startswith('coverage_g'))
  todo = list(METRICS) + [(f'coverage_g{g}', f"mass on group {g}'s favourites")
                          for g in groups]
  paths = []
  for metric, ylabel in todo:
    if metric in rows[0]:
      paths.append(os.path.join(workdir, f'{metric}_vs_choices.png'))
      save(plot_metric(rows, metric, ylabel), paths[-1])
  return paths
