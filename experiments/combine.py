r"""Combines a study's variants that ran on the same lanes into one summary, as if run together.

  python -m experiments.combine --study=structured --variants=headline_a,headline_b \
      --name=headline --runs=runs/studies

A run too long for one sitting can be split by strategy: variants whose configs differ only in
`experiment.strategies` run on the same (world, seed) lanes (a lane's prompts, priors and
bootstrap weights do not depend on which strategies run beside it, nor in what order), so their
rows together are the rows of one run of every strategy. `experiments.study` publishes each
variant's `results.csv`, `config.json` and `pretrain.json` beside its summary; this reads them
back from `experiments/<study>/results/`, checks that the variants' configs agree but for their
strategies (which must not overlap) and that they pre-trained the same LM, and writes a work
directory `RUNS/<study>/<name>/` (config.json with every strategy, pretrain.json, results.csv,
summary.json and the figures) that it publishes as `<name>_*` like a run of its own. The summary is
`lmrl.summary.summarize` of the rows, so ratios between strategies of different variants are
paired over the shared lanes; each strategy's `queries_showing_a_favourite_of_group` and
`learner_lag` are its own variant's.

Bad input (an unknown study or variant, a variant not published with its rows, configs that
differ, strategies run twice) is refused in one line before anything is written.
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


def check_same_lanes(published: dict[str, dict], defaults: dict | None = None) -> None:
  """The variants ran the same lanes: configs equal but for `experiment.strategies` (disjoint;
  a field that only one of them has counts as equal where it holds its value in `defaults`, the
  default config's: a field added to lmrl since the other ran), the same pre-trained LM.
  SystemExit (one line) naming what differs."""
  (first, one), *rest = published.items()
  seen = {s: first for s in one['config.json']['experiment']['strategies']}
  for variant, other in rest:
    differences, _ = workdir_lib.config_differences(
        one['config.json'], other['config.json'], defaults, symmetric=True,
        names=(f'in {first}', f'in {variant}'), ignore=('experiment.strategies',))
    if differences:
      raise SystemExit(f'error: --variants: {first} and {variant} differ in {differences[0]}: '
                       'they did not run the same lanes')
    if one['pretrain.json'] != other['pretrain.json']:
      raise SystemExit(f'error: --variants: {first} and {variant} pre-trained different LMs '
                       '(their pretrain.json differ)')
    for strategy in other['config.json']['experiment']['strategies']:
      if strategy in seen:
        raise SystemExit(f'error: --variants: {seen[strategy]} and {variant} both ran '
                         f'{strategy}')
      seen[strategy] = variant


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


def combine(published: dict[str, dict]) -> tuple[dict, list[dict], dict]:
  """(config, rows as written, summary) of the variants' published files as one run
  (`check_same_lanes` first)."""
  check_same_lanes(published)
  config = copy.deepcopy(next(iter(published.values()))['config.json'])
  config['experiment']['strategies'] = [
      s for p in published.values() for s in p['config.json']['experiment']['strategies']]
  rows = [r for p in published.values() for r in p['results.csv']]
  many_worlds = config['world'].get('num_worlds', 1) > 1
  pretrain = next(iter(published.values()))['pretrain.json']
  summary = summary_lib.summarize(
      curves_from_rows(rows, many_worlds), pretrained_kl=pretrain['kl_to_pstar'],
      target_coverage_G=target_coverage(rows, many_worlds),
      num_bootstrap=config['experiment']['num_bootstrap'], seed=config['seed'])
  for p in published.values():
    for agent, strategies in p['summary.json'].items():
      for strategy, entry in strategies.items():
        for field in OWN_FIELDS:
          if field in entry and strategy in summary.get(agent, {}):
            summary[agent][strategy][field] = entry[field]
  return config, [r for p in published.values() for r in p['results.csv text']], summary


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
  config, rows, summary = combine(published)
  workdir = os.path.join(flags.FLAGS.runs, name, _NAME.value)
  os.makedirs(workdir, exist_ok=True)
  files.write_json(os.path.join(workdir, 'config.json'), config)
  files.write_json(os.path.join(workdir, 'pretrain.json'), published[variants[0]]['pretrain.json'])
  files.write_csv(os.path.join(workdir, 'results.csv'), rows)
  files.write_json(os.path.join(workdir, 'summary.json'), summary)
  plotting.plot_workdir(workdir)
  for line in summary_lib.format_summary(summary):
    print(line)
  study_lib.publish(workdir, results_dir, _NAME.value)
  print(f'combined {", ".join(variants)} into {workdir} and {results_dir}/{_NAME.value}_*')


if __name__ == '__main__':
  app.run(main)
