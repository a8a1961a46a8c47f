"""Plots from a work directory's `results.csv`: metric vs. queries, mean +/- s.e. over seeds."""

import os

from matplotlib import figure
import numpy as np

from lmrl import results

PLOTS = (  # (file name, metric column, y label)
    ('kl_vs_queries.png', 'kl', 'KL(p* || p)'),
    ('minority_coverage_vs_queries.png', 'coverage_g1', 'minority coverage'),
    ('spread_vs_queries.png', 'spread', 'epistemic spread'),
)


def plot_metric(rows: list[dict], metric: str, ylabel: str, path: str) -> None:
  """One line per (agent, strategy): mean over seeds, shaded +/- one standard error."""
  fig = figure.Figure(figsize=(6, 4))  # No pyplot: a notebook's backend is left alone.
  ax = fig.subplots()
  agents = {a for a, _ in results.curves(rows, metric)}
  for (agent, strategy), (queries, values_SxR) in results.curves(rows, metric).items():
    mean_R = np.nanmean(values_SxR, axis=0)
    se_R = np.nanstd(values_SxR, axis=0, ddof=1) / np.sqrt(values_SxR.shape[0]) if (
        values_SxR.shape[0] > 1) else np.zeros_like(mean_R)
    label = strategy if len(agents) == 1 else f'{agent}/{strategy}'
    line, = ax.plot(queries, mean_R, label=label,
                    linestyle='-' if agent == 'joint' else '--')
    ax.fill_between(queries, mean_R - se_R, mean_R + se_R, alpha=0.2, color=line.get_color())
  target_col = f'target_{metric}'
  if rows and target_col in rows[0]:
    ax.axhline(rows[0][target_col], color='k', linestyle=':', label='p* (target)')
  ax.set_xlabel('human choices (queries)')
  ax.set_ylabel(ylabel)
  ax.legend(fontsize=8)
  fig.tight_layout()
  with results.atomic_path(path) as tmp:  # Never half a picture.
    fig.savefig(tmp, dpi=120, format='png')


def plot_workdir(workdir: str) -> list[str]:
  """Redraws every plot of a work directory from its `results.csv`; returns the paths."""
  rows = results.read_rows(os.path.join(workdir, 'results.csv'))
  paths = []
  for name, metric, ylabel in PLOTS:
    if rows and metric in rows[0]:
      paths.append(os.path.join(workdir, name))
      plot_metric(rows, metric, ylabel, paths[-1])
  return paths
