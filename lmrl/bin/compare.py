r"""Compares several work directories: one table and one figure of KL vs. human choices.

  python -m lmrl.bin.compare --workdirs=runs/default,runs/vocab8 --out=runs/comparison

Reads each work directory's `summary.json` and `results.csv` (written by `lmrl.bin.explore`) and
writes to `--out`:

  comparison.md    a Markdown table, a row per work directory, agent and strategy: final KL
                   (90% interval), choices to close 50% and 80% of the KL gap, the 80% ratio
                   vs. passive and vs. uniform, and the worst group's coverage relative to p*'s
  comparison.csv   the same numbers, one column each
  kl_vs_choices.png  KL vs. human choices, one panel per work directory (shared y axis)

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

from lmrl import plotting
from lmrl import results

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


def compare(workdirs: list[str], names: list[str], out: str) -> list[str]:
  """Writes the table (Markdown and CSV) and the figure to `out`; returns their paths."""
  summaries, all_rows = {}, {}
  for name, workdir in zip(names, workdirs):
    with open(os.path.join(workdir, 'summary.json')) as f:
      summaries[name] = json.load(f)
    all_rows[name] = results.read_rows(os.path.join(workdir, 'results.csv'))
  rows = comparison_rows(summaries)
  os.makedirs(out, exist_ok=True)
  paths = [os.path.join(out, n) for n in ('comparison.md', 'comparison.csv', 'kl_vs_choices.png')]
  results.write_atomic(paths[0], markdown(rows))
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=COLUMNS)
  writer.writeheader()
  writer.writerows(rows)
  results.write_atomic(paths[1], text.getvalue())
  fig = figure.Figure(figsize=(5 * len(names), 4))
  axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
  for ax, name in zip(axes, names):
    plotting.plot_metric(all_rows[name], 'kl', 'KL(p* || p)', ax=ax)
    ax.set_title(name)
  plotting.save(fig, paths[2])
  return paths


def main(argv):
  del argv
  workdirs = _WORKDIRS.value or []
  names = _NAMES.value or [os.path.basename(os.path.normpath(w)) for w in workdirs]
  problems = [f'--workdirs: {w} has no summary.json and results.csv' for w in workdirs
              if not all(os.path.exists(os.path.join(w, f))
                         for f in ('summary.json', 'results.csv'))]
  if not workdirs:
    problems.append('--workdirs is required (comma-separated work directories)')
  if len(names) != len(workdirs):
    problems.append(f'--names gives {len(names)} names for {len(workdirs)} work directories')
  if len(set(names)) != len(names):
    problems.append(f'work directory names must differ, got {names} (use --names)')
  if not _OUT.value:
    problems.append('--out is required')
  if problems:
    sys.exit(f'error: {problems[0]}')
  for path in compare(workdirs, names, _OUT.value):
    print(f'wrote {path}')


if __name__ == '__main__':
  app.run(main)
