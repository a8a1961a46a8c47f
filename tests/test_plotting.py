"""The figures a run writes (`lmrl.plotting`), drawn from hand-made long-format rows (no run).

Coverage is a ratio to its target (the dotted line at 1); every figure names its seed count
(failed seeds left out); a sweep's grid points share their strategy's colour and differ in line
style and marker; the legend follows the config's strategies, not the alphabet.
"""

import ast
import glob
import json
import os

from matplotlib import colors
import numpy as np
import pytest

from lmrl import files
from lmrl import plotting

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERIES_PER_ROUND = 4
TARGET_G = (0.836, 0.164)  # What p* puts on each group's favourites.


def make_rows(strategies, seeds=3, rounds=4, hparams=None, failed=()):
  """Rows of `results.csv` for each strategy: coverage_g1 ~ 0.02..0.05 (far below its target),
  KL falling; `failed` holds (strategy, seed) pairs marked failed from round 2."""
  rng = np.random.default_rng(0)
  rows = []
  for strategy in strategies:
    for seed in range(seeds):
      for r in range(rounds + 1):
        rows.append({
            'agent': 'joint', 'strategy': strategy, **(hparams or {}).get(strategy, {}),
            'seed': seed, 'round': r, 'queries': r * QUERIES_PER_ROUND,
            'kl': 1.0 / (1 + r) + 0.01 * rng.random(), 'tv': 0.5,
            'coverage_g0': 0.8 + 0.01 * rng.random(), 'coverage_g1': 0.02 + 0.01 * r / rounds,
            'target_coverage_g0': TARGET_G[0], 'target_coverage_g1': TARGET_G[1],
            'failed': int((strategy, seed) in failed and r >= 2)})
  return rows


def legend_labels(fig):
  return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_coverage_is_a_ratio_to_its_target_with_the_target_line_at_1():
  rows = make_rows(['passive', 'infomax'])
  ax = plotting.plot_metric(rows, 'coverage_g1').axes[0]
  curves = {line.get_label(): line for line in ax.lines}
  expected = np.mean([[r['coverage_g1'] for r in rows
                       if r['strategy'] == 'passive' and r['seed'] == s] for s in range(3)], 0)
  np.testing.assert_allclose(curves['passive'].get_ydata(), expected / TARGET_G[1])
  assert curves['p* (target)'].get_ydata()[0] == 1.0
  assert ax.get_ylim()[0] < 0.3 and ax.get_ylim()[1] > 1.0  # Curves ~0.12..0.3, the target 1.
  assert "group 1's favourites / p*'s" in ax.get_ylabel()
  assert ax.get_xlabel().startswith('queries')
  # Without `ratio`, the raw values and the target at its own value.
  ax = plotting.plot_metric(rows, 'coverage_g1', ratio=False).axes[0]
  assert {line.get_label(): line for line in ax.lines}['p* (target)'].get_ydata()[0] == TARGET_G[1]


def test_every_figure_names_its_seed_count_without_the_failed_seeds():
  rows = make_rows(['passive', 'infomax'], seeds=4)
  fig = plotting.plot_metric(rows, 'kl')
  assert fig.axes[0].get_title() == 'mean ± 1 s.e. over 4 seeds'
  rows = make_rows(['passive', 'infomax'], seeds=4, failed={('infomax', 2)})
  ax = plotting.plot_metric(rows, 'kl', title='run A').axes[0]
  assert ax.get_title() == 'run A\nmean ± 1 s.e. over 3–4 seeds (1 failed seed left out)'
  assert legend_labels(ax.figure)[:2] == ['passive', 'infomax (n=3)']
  ax = plotting.plot_metric(make_rows(['passive'], seeds=1), 'kl').axes[0]
  assert ax.get_title() == '1 seed (no s.e.)'


def test_a_sweeps_points_share_their_strategys_colour_and_differ_in_style():
  names = [f'{s}[learning_rate={lr}]' for s in ('passive', 'infomax') for lr in ('0.001', '0.01')]
  hparams = {n: {'learning_rate': float(n.split('=')[1][:-1])} for n in names}
  ax = plotting.plot_metric(make_rows(names, hparams=hparams), 'kl').axes[0]
  lines = {line.get_label(): line for line in ax.lines}
  color = lambda n: colors.to_hex(lines[n].get_color())
  style = lambda n: (lines[n].get_linestyle(), lines[n].get_marker())
  p1, p2, i1, i2 = names
  assert color(p1) == color(p2) != color(i1) == color(i2)
  assert style(p1) != style(p2) and style(p1) == style(i1) and style(p2) == style(i2)
  assert lines[p1].get_marker() not in (None, 'None', '')
  # Without a sweep, no markers; two agent kinds: joint solid, classic dashed, same colour.
  rows = make_rows(['passive'])
  rows += [{**r, 'agent': 'classic'} for r in rows]
  lines = {line.get_label(): line for line in plotting.plot_metric(rows, 'kl').axes[0].lines}
  assert lines['joint/passive'].get_linestyle() == '-'
  assert lines['classic/passive'].get_linestyle() == '--'
  assert lines['joint/passive'].get_color() == lines['classic/passive'].get_color()
  assert lines['joint/passive'].get_marker() in (None, 'None', '')


def test_the_legend_follows_the_configs_strategies_not_the_alphabet(tmp_path):
  config_order = ('uniform', 'passive', 'infomax', 'boltzmann')
  rows = make_rows(config_order)
  assert legend_labels(plotting.plot_metric(rows, 'kl')) == [*config_order]
  # Rows in another order: `strategies` (plot_workdir passes config.json's) decides.
  shuffled = make_rows(['infomax', 'boltzmann', 'passive', 'uniform'])
  fig = plotting.plot_metric(shuffled, 'coverage_g1', strategies=config_order)
  assert legend_labels(fig) == [*config_order, 'p* (target)']
  # A sweep: strategies in the config's order, each one's grid points in the grid's order.
  names = [f'{s}[learning_rate={lr}]' for s in ('passive', 'infomax') for lr in ('0.01', '0.001')]
  fig = plotting.plot_metric(make_rows(names[::-1]), 'kl', strategies=('passive', 'infomax'))
  assert legend_labels(fig) == [names[1], names[0], names[3], names[2]]

  files.write_csv(str(tmp_path / 'results.csv'), shuffled)
  files.write_json(str(tmp_path / 'config.json'), {'experiment': {'strategies': config_order}})
  assert plotting.config_strategies(str(tmp_path)) == config_order
  paths = plotting.plot_workdir(str(tmp_path))
  # The file names the docs and tests use.
  assert {os.path.basename(p) for p in paths} == {
      'kl_vs_queries.png', 'tv_vs_queries.png', 'coverage_g0_vs_queries.png',
      'coverage_g1_vs_queries.png'}
  assert all(os.path.getsize(p) > 0 for p in paths)


def test_to_dataframe_types_and_order(tmp_path):
  pd = pytest.importorskip('pandas')
  from lmrl import rows as rows_lib  # pylint: disable=g-import-not-at-top
  rows = make_rows(['uniform', 'passive'], failed={('passive', 1)})
  rows[0]['kl'] = float('inf')
  rows[1]['tv'] = float('nan')
  files.write_csv(str(tmp_path / 'results.csv'), rows)
  df = rows_lib.to_dataframe(str(tmp_path))
  assert len(df) == len(rows) and list(df.columns) == list(rows[0])
  assert list(df['strategy'].cat.categories) == ['uniform', 'passive']  # The run's order.
  assert [str(df[c].dtype) for c in ('seed', 'round', 'queries', 'failed')] == [
      'int64', 'int64', 'int64', 'bool']
  assert df['kl'].dtype == np.float64 and df['kl'].iloc[0] == np.inf and np.isnan(df['tv'][1])
  assert df['failed'].sum() == 3  # passive seed 1, rounds 2..4.
  final = df[df['round'] == df['round'].max()].groupby('strategy', observed=True)['kl'].mean()
  assert list(final.index) == ['uniform', 'passive']
  assert isinstance(final, pd.Series)


def test_lmrl_never_imports_pyplot():
  """A notebook's backend is its own: no module of lmrl imports matplotlib.pyplot."""
  for path in glob.glob(os.path.join(REPO_ROOT, 'lmrl', '**', '*.py'), recursive=True):
    with open(path) as f:
      tree = ast.parse(f.read())
    for node in ast.walk(tree):
      names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
               [f'{node.module}.{a.name}' for a in node.names]
               if isinstance(node, ast.ImportFrom) else [])
      assert not any('pyplot' in n for n in names), (path, names)


def test_without_a_config_the_rows_order_is_kept(tmp_path):
  assert plotting.config_strategies(str(tmp_path)) is None  # No config.json: rows' order.
  with open(tmp_path / 'config.json', 'w') as f:
    json.dump({'experiment': {}}, f)
  assert plotting.config_strategies(str(tmp_path)) is None
