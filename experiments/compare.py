r"""Compares several work directories: one table and one figure of KL vs. human choices.

  python -m experiments.compare --workdirs=runs/default,runs/vocab8 --out=runs/comparison

Reads each work directory's `summary.json` and `results.csv` (written by `experiments.explore`)
and writes to `--out`:

  comparison.md    a Markdown table, a row per work directory, agent and strategy: final KL
                   (90% interval), choices to close 50% and 80% of the KL gap, the 80% ratio
                   vs. passive and vs. uniform, and the worst group's coverage relative to p*'s
  comparison.csv   the same numbers, one column each
  kl_vs_queries.png  KL vs. queries (human choices), one panel per work directory (shared y
                   axis), each titled with its seed count; a strategy has one colour throughout

Work directories are named by their last path component (`--names` overrides).
"""

import csv
import io
import json
import os
import sys

from absl import app
from absl import flags
from matplotlib import figure

from lmrl import files
from lmrl import plotting
from lmrl import rows as rows_lib

_WORKDIRS = flags.DEFINE_list('workdirs', None, 'Work directories to compare (comma-separated).')
_NAMES = flags.DEFINE_list('names', None, 'A name per work directory (default: its basename).')
_OUT = flags.DEFINE_string('out', None, 'Directory for comparison.md, .csv and the figure.')

COLUMNS = ('run', 'agent', 'strategy', 'seeds', 'final_kl', 'final_kl_ci90_low',
           'final_kl_ci90_high', 'close_50', 'close_80', 'close_80_vs_passive',
           'close_80_vs_uniform', 'worst_group_coverage')


def comparison_rows(summaries: dict[str, dict]) -> list[dict]:
  """One row per (run, agent, strategy) of `{run name: summary.json contents}`."""
  rows = []
  for run, summary in summaries.items():
    for agent, strategies in summary.items():
      for strategy, entry in strategies.items():
        kl = entry.get('final_kl', {})
        low, high = kl.get('ci90', [None, None])
        text = lambda key: entry[key]['text'] if key in entry else ''
        rows.append({
            'run': run, 'agent': agent, 'strategy': strategy,
            'seeds': f'{entry["num_seeds_used"]}/{entry["num_seeds"]}',
            'final_kl': kl.get('mean'), 'final_kl_ci90_low': low, 'final_kl_ci90_high': high,
            'close_50': text('close_50'), 'close_80': text('close_80'),
            'close_80_vs_passive': text('close_80_vs_passive'),
            'close_80_vs_uniform': text('close_80_vs_uniform'),
            'worst_group_coverage': text('worst_group_coverage')})
  return rows


def markdown(rows: list[dict]) -> str:
  fmt = lambda v: '' if v is None else (f'{v:.4f}' if isinstance(v, float) else str(v))
  header = ['run', 'agent', 'strategy', 'seeds', 'final KL (90%)', 'choices to close 50%',
            'to close 80%', 'vs passive at 80%', 'vs uniform at 80%', 'worst group / p*']
  lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
  for r in rows:
    kl = (f'{fmt(r["final_kl"])} ({fmt(r["final_kl_ci90_low"])}–{fmt(r["final_kl_ci90_high"])})'
          if r['final_kl'] is not None else '')
    cells = [r['run'], r['agent'], r['strategy'], r['seeds'], kl, r['close_50'], r['close_80'],
             r['close_80_vs_passive'], r['close_80_vs_uniform'], r['worst_group_coverage']]
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def figure_of(all_rows: dict[str, list[dict]], strategies=()) -> figure.Figure:
  """KL vs. queries, a panel per run of `all_rows` ({name: rows}) on a shared y axis, each
  titled with its name and seed count; a strategy has one colour in every panel, and the
  legends follow `strategies` (the runs' config orders, first run first)."""
  strategies = tuple(dict.fromkeys(strategies))
  fig = figure.Figure(figsize=(5 * len(all_rows), 4))
  axes = fig.subplots(1, len(all_rows), sharey=True, squeeze=False)[0]
  for ax, (name, rows) in zip(axes, all_rows.items()):
    plotting.plot_metric(rows, 'kl', ax=ax, strategies=strategies, title=name)
    if ax is not axes[0]:
      ax.set_ylabel('')  # The shared axis is labelled once.
  return fig


def compare(workdirs: list[str], names: list[str], out: str) -> list[str]:
  """Writes the table (Markdown and CSV) and the figure to `out`; returns their paths."""
  summaries, all_rows, strategies = {}, {}, []
  for name, workdir in zip(names, workdirs):
    with open(os.path.join(workdir, 'summary.json')) as f:
      summaries[name] = json.load(f)
    all_rows[name] = rows_lib.read_rows(os.path.join(workdir, 'results.csv'))
    strategies += plotting.config_strategies(workdir) or ()
  rows = comparison_rows(summaries)
  os.makedirs(out, exist_ok=True)
  paths = [os.path.join(out, n) for n in ('comparison.md', 'comparison.csv', 'kl_vs_queries.png')]
  files.write_atomic(paths[0], markdown(rows))
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=COLUMNS)
  writer.writeheader()
  writer.writerows(rows)
  files.write_atomic(paths[1], text.getvalue())
  plotting.save(figure_of(all_rows, strategies), paths[2])
  return paths


def _problems(workdirs: list[str], names: list[str], out: str | None) -> list[str]:
  """What is wrong with the flags, first things first (one line each)."""
  problems = [f'--workdirs: {w} has no summary.json and results.csv' for w in workdirs
              if not all(os.path.exists(os.path.join(w, f))
                         for f in ('summary.json', 'results.csv'))]
  if not workdirs:
    problems.append('--workdirs is required (comma-separated work directories)')
  if len(names) != len(workdirs):
    problems.append(f'--names gives {len(names)} names for {len(workdirs)} work directories')
  if len(set(names)) != len(names):
    problems.append(f'work directory names must differ, got {names} (use --names)')
  if not out:
    problems.append('--out is required')
  return problems


def main(argv):
  del argv
  workdirs = _WORKDIRS.value or []
  names = _NAMES.value or [os.path.basename(os.path.normpath(w)) for w in workdirs]
  if problems := _problems(workdirs, names, _OUT.value):
    sys.exit(f'error: {problems[0]}')
  for path in compare(workdirs, names, _OUT.value):
    print(f'wrote {path}')


if __name__ == '__main__':
  app.run(main)
