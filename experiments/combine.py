r"""Combines a study's variants that ran on the same lanes into one summary, as if run together.

  python -m experiments.combine --study=structured --variants=headline_a,headline_b \
      --name=headline --runs=runs/studies

A run too long for one sitting can be split by strategy: variants whose configs differ only in
`experiment.strategies` run on the same (world, seed) lanes (a lane's prompts, priors and
bootstrap weights do not depend on which strategies run beside it, nor in what order), so their
rows together are the rows of one run of every strategy. A many-world run can also be split by
worlds: variants whose `world.seed` and `world.num_worlds` differ run disjoint ranges of world
seeds (`world.seed .. world.seed + num_worlds - 1`), and each lane's key depends only on its world's
seed and its seed (`lmrl.pipeline.lane_keys`), so the parts' rows are the rows of a run over the
union; every strategy must cover the same worlds, once each, a contiguous range.

`experiments.study` publishes each variant's `results.csv`, `config.json` and `pretrain.json`
beside its summary; this reads them back from `experiments/<study>/results/`, checks that the
variants' configs agree but for their strategies and worlds, and that they pre-trained the same
LMs (exactly where two variants ran the same worlds; to `PRETRAIN_RTOL` per world where their
ranges differ: vmapped pre-training over 4 worlds and over 8 agree to float rounding, not bit for
bit), and writes a work directory `RUNS/<study>/<name>/` (config.json with every strategy and the
union of worlds, pretrain.json, results.csv with each part's `world` and `seed` renumbered in the
union, summary.json and the figures) that it publishes as `<name>_*` like a run of its own. The
summary is `lmrl.summary.summarize` of the rows, so ratios between strategies of different
variants are paired over the shared lanes; each strategy's `queries_showing_a_favourite_of_group`
is its own variants' (the lane-weighted mean over its world parts) and its `learner_lag` its own
variant's (left out where the strategy was run in parts).

Bad input (an unknown study or variant, a variant not published with its rows, configs that
differ, strategies run twice on a world, worlds some strategy lacks) is refused in one line
before anything is written.
"""

import copy
import csv
import json
import os
import re

from absl import app
from absl import flags
import numpy as np

from experiments import study as study_lib
from lmrl import files
from lmrl import plotting
from lmrl import rows as rows_lib
from lmrl import summary as summary_lib
from lmrl import workdir as workdir_lib

# --study, --variants (>= 2, in the order to list their strategies) and --runs are
# experiments.study's flags; the combined work directory is RUNS/<study>/<name>.
_NAME = flags.DEFINE_string('name', None, 'The combined run\'s name (its files: <name>_*).')

PUBLISHED = ('config.json', 'pretrain.json', 'results.csv', 'summary.json')  # Read per variant.
OWN_FIELDS = ('queries_showing_a_favourite_of_group', 'learner_lag')  # Kept from each variant.
PRETRAIN_RTOL = 1e-3  # Per-world pre-trained LM reports of variants over different world ranges.


def read_variant(results_dir: str, variant: str) -> dict:
  """{file name: contents} of a variant's published files (results.csv parsed, and as written
  under 'results.csv text'); SystemExit (one line) if one is missing."""
  out = {}
  for name in PUBLISHED:
    path = os.path.join(results_dir, f'{variant}_{name}')
    if not os.path.exists(path):
      raise SystemExit(f'error: --variants: {variant} has no published {name} ({path}): run it '
                       'again with experiments.study, which publishes it')
    if name == 'results.csv':
      out[name] = rows_lib.read_rows(path)
      if not out[name]:
        raise SystemExit(f'error: --variants: {variant}\'s published results.csv ({path}) holds '
                         'no rows')
      with open(path, newline='') as f:
        out['results.csv text'] = list(csv.DictReader(f))
    else:
      with open(path) as f:
        out[name] = json.load(f)
  return out


def world_range(config: dict) -> range:
  """The world seeds a run's config covers: `world.seed .. world.seed + num_worlds - 1`."""
  w = config['world']
  return range(w['seed'], w['seed'] + w.get('num_worlds', 1))


def _per_world(pretrain: dict, worlds: range, variant: str) -> dict[int, dict]:
  """{world seed: its pre-trained LM's report} of one variant's pretrain.json; SystemExit (one
  line) if it does not hold one report per world of its config."""
  reports = pretrain.get('per_world', [pretrain] if len(worlds) == 1 else [])
  if len(reports) != len(worlds):
    raise SystemExit(f'error: --variants: {variant}\'s pretrain.json holds {len(reports)} '
                     f'per-world reports for its {len(worlds)} worlds')
  return dict(zip(worlds, reports))


def check_same_lanes(published: dict[str, dict], defaults: dict | None = None
                     ) -> tuple[range, list[dict]]:
  """The variants ran lanes of one run; returns its worlds (a range of world seeds) and each
  world's pre-trained LM report (the first variant's that ran it), in order.

  Their configs are equal but for `experiment.strategies` and, with many worlds, `world.seed`
  and `world.num_worlds` (a field that only one of them has counts as equal where it holds its
  value in `defaults`, the default config's: a field added to lmrl since the other ran); each
  strategy covers the same contiguous worlds, each once; they pre-trained the same LMs. SystemExit
  (one line) naming what differs."""
  (first, one), *rest = published.items()
  many_worlds = all(p['config.json']['world'].get('num_worlds', 1) > 1
                    for p in published.values())
  ignore = ('experiment.strategies',) + (('world.seed', 'world.num_worlds') if many_worlds else ())
  for variant, other in rest:
    differences, _ = workdir_lib.config_differences(
        one['config.json'], other['config.json'], defaults, symmetric=True,
        names=(f'in {first}', f'in {variant}'), ignore=ignore)
    if differences:
      raise SystemExit(f'error: --variants: {first} and {variant} differ in {differences[0]}: '
                       'they did not run the same lanes')
  covered, reports = {}, {}  # {strategy: {world: variant}}, {world: (variant, report)}
  for variant, p in published.items():
    worlds = world_range(p['config.json'])
    for strategy in p['config.json']['experiment']['strategies']:
      mine = covered.setdefault(strategy, {})
      for world in worlds:
        if world in mine:
          raise SystemExit(f'error: --variants: {mine[world]} and {variant} both ran '
                           f'{strategy}' + (f' on world {world}' if many_worlds else ''))
        mine[world] = variant
    for world, report in _per_world(p['pretrain.json'], worlds, variant).items():
      seen, theirs = reports.setdefault(world, (variant, report))
      same_range = world_range(published[seen]['config.json']) == worlds
      if (p['pretrain.json'] != published[seen]['pretrain.json'] if same_range
          else not _reports_close(report, theirs)):
        raise SystemExit(f'error: --variants: {seen} and {variant} pre-trained different LMs '
                         f'(their pretrain.json differ{"" if same_range else f" on world {world}"})')
  worlds = sorted(reports)
  for strategy, mine in covered.items():
    if sorted(mine) != worlds:
      missing = sorted(set(worlds) - set(mine))
      raise SystemExit(f'error: --variants: {strategy} was not run on world(s) '
                       f'{", ".join(map(str, missing))}, which other variants ran: every '
                       'strategy needs the same lanes')
  if worlds != list(range(worlds[0], worlds[-1] + 1)):
    raise SystemExit(f'error: --variants: the worlds run ({", ".join(map(str, worlds))}) are not '
                     'a contiguous range of world seeds')
  return range(worlds[0], worlds[-1] + 1), [reports[w][1] for w in worlds]


def _reports_close(one: dict, other: dict) -> bool:
  """Two pre-trained LM reports with the same fields, each within `PRETRAIN_RTOL`."""
  return one.keys() == other.keys() and all(
      np.isclose(one[k], other[k], rtol=PRETRAIN_RTOL, atol=0) for k in one)


def curves_from_rows(rows: list[dict], many_worlds: bool
                     ) -> dict[tuple[str, str], summary_lib.Curves]:
  """`summary.Curves` of every (agent, strategy) of long-format rows, in their order."""
  groups = sorted(int(k[len('coverage_g'):]) for k in rows[0] if k.startswith('coverage_g'))
  kl = rows_lib.curves(rows, 'kl', exclude_failed=False)
  coverage = {g: rows_lib.curves(rows, f'coverage_g{g}', exclude_failed=False) for g in groups}
  failed = rows_lib.failed_seeds(rows)
  order = list(dict.fromkeys((r['agent'], r['strategy']) for r in rows))
  out = {}
  for key in order:
    queries_R, kl_SxR = kl[key]
    seeds = sorted({int(r['seed']) for r in rows if (r['agent'], r['strategy']) == key})
    coverage_SxRxG = np.stack([coverage[g][key][1] for g in groups], axis=-1) if groups else (
        np.zeros(kl_SxR.shape + (0,)))
    world_S = None
    if many_worlds:
      world_of = {int(r['seed']): int(r['world']) for r in rows
                  if (r['agent'], r['strategy']) == key}
      world_S = np.array([world_of[s] for s in seeds])
    out[key] = summary_lib.Curves(queries_R, kl_SxR, coverage_SxRxG,
                                  np.array([s in failed.get(key, ()) for s in seeds]), world_S)
  return out


def target_coverage(rows: list[dict], many_worlds: bool) -> np.ndarray:
  """p*'s coverage of each group as the run gave it to the summary: float[G], or with many
  worlds [S, G] (each lane's world's), from the first strategy's round-0 rows."""
  groups = sorted(int(k[len('target_coverage_g'):]) for k in rows[0]
                  if k.startswith('target_coverage_g'))
  key = (rows[0]['agent'], rows[0]['strategy'])
  first = sorted((r for r in rows if (r['agent'], r['strategy']) == key and r['round'] == 0),
                 key=lambda r: r['seed'])
  target_SxG = np.array([[r[f'target_coverage_g{g}'] for g in groups] for r in first])
  return target_SxG if many_worlds else target_SxG[0]


def combined_pretrain(published: dict[str, dict], worlds: range, reports: list[dict]) -> dict:
  """The union's pretrain.json: where every variant ran all of `worlds`, the first one's file;
  else the worlds' `reports` (`check_same_lanes`) and each field's mean over them (summed as
  `lmrl.pretraining.report_worlds` sums them)."""
  first = next(iter(published.values()))
  if world_range(first['config.json']) == worlds:
    return first['pretrain.json']
  return {**{k: float(sum(r[k] for r in reports) / len(reports)) for k in reports[0]},
          'per_world': reports}


def _renumbered(rows: list[dict], first_world: int, num_seeds: int, parse) -> list[dict]:
  """Rows of a part whose worlds start `first_world` worlds into the union: `world` and `seed`
  (the lane, w * S + s) moved on by that many worlds."""
  if not first_world:
    return rows
  return [{**r, 'world': parse(float(r['world']) + first_world),
           'seed': parse(float(r['seed']) + first_world * num_seeds)} for r in rows]


def combine(published: dict[str, dict]) -> tuple[dict, list[dict], dict, dict]:
  """(config, rows as written, summary, pretrain.json) of the variants' published files as one
  run (`check_same_lanes` first)."""
  worlds, reports = check_same_lanes(published)
  config = copy.deepcopy(next(iter(published.values()))['config.json'])
  config['experiment']['strategies'] = list(dict.fromkeys(
      s for p in published.values() for s in p['config.json']['experiment']['strategies']))
  if len(worlds) > 1:
    config['world']['seed'], config['world']['num_worlds'] = worlds.start, len(worlds)
  num_seeds = config['experiment']['num_seeds']
  rows, text = [], []
  for p in published.values():
    offset = world_range(p['config.json']).start - worlds.start
    rows += _renumbered(p['results.csv'], offset, num_seeds, float)
    text += _renumbered(p['results.csv text'], offset, num_seeds, lambda x: str(int(x)))
  many_worlds = len(worlds) > 1
  pretrain = combined_pretrain(published, worlds, reports)
  summary = summary_lib.summarize(
      curves_from_rows(rows, many_worlds), pretrained_kl=pretrain['kl_to_pstar'],
      target_coverage_G=target_coverage(rows, many_worlds),
      num_bootstrap=config['experiment']['num_bootstrap'], seed=config['seed'])
  own = {}  # {(agent, strategy, field): [(lanes, value)]}
  runs_of = {}  # {strategy: how many variants ran it (its world parts)}
  for p in published.values():
    for strategy in p['config.json']['experiment']['strategies']:
      runs_of[strategy] = runs_of.get(strategy, 0) + 1
    lanes = len(world_range(p['config.json'])) * num_seeds
    for agent, strategies in p['summary.json'].items():
      for strategy, entry in strategies.items():
        for field in OWN_FIELDS:
          if field in entry and strategy in summary.get(agent, {}):
            own.setdefault((agent, strategy, field), []).append((lanes, entry[field]))
  for (agent, strategy, field), parts in own.items():
    if len(parts) != runs_of[strategy]:
      continue  # Some world part lacks it: no whole-run value.
    if len(parts) == 1:
      summary[agent][strategy][field] = parts[0][1]
    elif field == 'queries_showing_a_favourite_of_group':
      weights = [lanes for lanes, _ in parts]
      summary[agent][strategy][field] = np.average(
          [value for _, value in parts], axis=0, weights=weights).tolist()
  return config, text, summary, pretrain


def main(argv):
  if len(argv) > 1:
    raise SystemExit(f'error: unexpected arguments: {" ".join(argv[1:])}')
  name = flags.FLAGS.study
  if not name:
    raise SystemExit(f'error: --study is required; known: {", ".join(study_lib.known_studies())}')
  study = study_lib.load_study(name)
  variants = study_lib.chosen_variants(name, study, flags.FLAGS.variants)
  if len(variants) < 2 or len(set(variants)) < len(variants):
    raise SystemExit('error: --variants: name at least two different variants to combine')
  if (not re.fullmatch(r'[A-Za-z0-9_-]+', _NAME.value or '')
      or _NAME.value in study.VARIANTS):
    raise SystemExit(f'error: --name: give the combined run a name of letters, digits, _ and - '
                     f'that is not a variant of {name}, got {_NAME.value!r}')
  results_dir = os.path.join(study_lib.STUDIES_DIR, name, 'results')
  published = {v: read_variant(results_dir, v) for v in variants}
  config, rows, summary, pretrain = combine(published)
  workdir = os.path.join(flags.FLAGS.runs, name, _NAME.value)
  os.makedirs(workdir, exist_ok=True)
  files.write_json(os.path.join(workdir, 'config.json'), config)
  files.write_json(os.path.join(workdir, 'pretrain.json'), pretrain)
  files.write_csv(os.path.join(workdir, 'results.csv'), rows)
  files.write_json(os.path.join(workdir, 'summary.json'), summary)
  plotting.plot_workdir(workdir)
  for line in summary_lib.format_summary(summary):
    print(line)
  study_lib.publish(workdir, results_dir, _NAME.value)
  print(f'combined {", ".join(variants)} into {workdir} and {results_dir}/{_NAME.value}_*')


if __name__ == '__main__':
  app.run(main)
