"""`python -m experiments.combine`: variants that differ only in their strategies are one run.

The tiny run's published files split by strategy combine back into its own summary; variants
whose configs differ, that ran a strategy twice, or were published without their rows are refused
in one line, as are world parts that overlap, leave a strategy without some world or leave a gap;
and (slow) a strategy run alone gives the same lanes as beside another, and a many-world run split
by worlds and strategies combines into the whole run's summary.
"""

import copy
import csv
import json
import os

from absl import flags
from absl.testing import flagsaver
import numpy as np
import pytest

import lmrl
from experiments import combine as combine_lib
from experiments import study as study_lib
from lmrl import files
from lmrl import rows as rows_lib
from lmrl.configs import tiny
from tests.conftest import TINY_RUN_STRATEGIES


def _split(workdir: str, results_dir: str) -> list[str]:
  """Publishes the tiny run as one variant per strategy (its rows, summary entry and config
  restricted to that strategy), as `experiments.study` would have for separate runs."""
  with open(os.path.join(workdir, 'results.csv'), newline='') as f:
    rows = list(csv.DictReader(f))
  with open(os.path.join(workdir, 'summary.json')) as f:
    summary = json.load(f)
  with open(os.path.join(workdir, 'config.json')) as f:
    config = json.load(f)
  variants = []
  for strategy in TINY_RUN_STRATEGIES:
    variant = f'only_{strategy}'
    run = os.path.join(results_dir, '..', 'runs', variant)
    os.makedirs(run)
    files.write_csv(os.path.join(run, 'results.csv'),
                    [r for r in rows if r['strategy'] == strategy])
    files.write_json(os.path.join(run, 'summary.json'),
                     {'joint': {strategy: summary['joint'][strategy]}})
    own = copy.deepcopy(config)
    own['experiment']['strategies'] = [strategy]
    files.write_json(os.path.join(run, 'config.json'), own)
    for name in ('pretrain.json',):
      with open(os.path.join(workdir, name)) as f:
        files.write_atomic(os.path.join(run, name), f.read())
    study_lib.publish(run, results_dir, variant)
    variants.append(variant)
  return variants


def test_a_run_split_by_strategy_combines_into_its_own_summary(tiny_run, tmp_path):
  results_dir = str(tmp_path / 'results')
  variants = _split(tiny_run, results_dir)
  assert sorted(os.listdir(results_dir)) == sorted(
      f'{v}_{name}' for v in variants for name in study_lib.PUBLISHED)
  published = {v: combine_lib.read_variant(results_dir, v) for v in variants}
  config, rows, summary, _ = combine_lib.combine(published)
  with open(os.path.join(tiny_run, 'summary.json')) as f:
    assert json.loads(json.dumps(files.finite_or_none(summary))) == json.load(f)
  assert config['experiment']['strategies'] == list(TINY_RUN_STRATEGIES)
  with open(os.path.join(tiny_run, 'results.csv'), newline='') as f:
    assert rows == list(csv.DictReader(f))  # As written, in the strategies' order.


def test_variants_that_did_not_run_the_same_lanes_are_refused_in_one_line(tiny_run, tmp_path):
  results_dir = str(tmp_path / 'results')
  variants = _split(tiny_run, results_dir)

  def refusal(edit) -> str:
    published = {v: combine_lib.read_variant(results_dir, v) for v in variants}
    edit(published[variants[1]])
    with pytest.raises(SystemExit) as refused:
      combine_lib.combine(published)
    assert '\n' not in str(refused.value)
    return str(refused.value)

  def rounds(p):
    p['config.json']['experiment']['rounds'] += 1

  def learning_rate(p):
    p['config.json']['finetune']['learning_rate'] = 0.5

  def twice(p):
    p['config.json']['experiment']['strategies'] = ['passive']

  def other_lm(p):
    p['pretrain.json']['kl_to_pstar'] += 1e-6

  def added_since(p):  # A field lmrl added after one variant ran counts at its default value.
    del p['config.json']['classic']['reward_rows']

  rounds_line = refusal(rounds)
  assert rounds_line.startswith('error: --variants: only_passive and only_infomax differ in '
                                'experiment.rounds: ')
  assert 'finetune.learning_rate' in refusal(learning_rate)
  assert refusal(twice) == 'error: --variants: only_passive and only_infomax both ran passive'
  assert 'pre-trained different LMs' in refusal(other_lm)
  published = {v: combine_lib.read_variant(results_dir, v) for v in variants}
  added_since(published[variants[1]])
  combine_lib.combine(published)  # Accepted.
  published_first = published[variants[0]]
  published[variants[1]]['config.json']['classic']['reward_rows'] = 'recent'
  del published_first['config.json']['classic']['reward_rows']
  with pytest.raises(SystemExit) as refused:
    combine_lib.combine(published)
  assert 'differ in classic.reward_rows' in str(refused.value)
  with open(os.path.join(results_dir, 'only_infomax_results.csv')) as f:
    header = f.readline()
  with open(os.path.join(results_dir, 'only_infomax_results.csv'), 'w') as f:
    f.write(header)
  with pytest.raises(SystemExit) as refused:
    combine_lib.read_variant(results_dir, 'only_infomax')
  assert str(refused.value).startswith("error: --variants: only_infomax's published results.csv")
  os.remove(os.path.join(results_dir, 'only_infomax_results.csv'))
  with pytest.raises(SystemExit) as refused:
    combine_lib.read_variant(results_dir, 'only_infomax')
  assert str(refused.value).startswith('error: --variants: only_infomax has no published '
                                       'results.csv')


def test_the_binary_refuses_bad_names_before_writing_anything(tmp_path):
  runs = tmp_path / 'runs'
  for argv, expected in [
      (['--study=other_worlds', '--variants=pairs', '--name=x'],
       'error: --variants: name at least two different variants to combine'),
      (['--study=other_worlds', '--variants=pairs,pairs', '--name=x'],
       'error: --variants: name at least two different variants to combine'),
      (['--study=other_worlds', '--variants=pairs,non_iia', '--name=pairs'],
       "error: --name: give the combined run a name of letters, digits, _ and - that is not a "
       "variant of other_worlds, got 'pairs'"),
      (['--study=other_worlds', '--variants=pairs,non_iia', '--name=..'],
       "error: --name: give the combined run a name of letters, digits, _ and - that is not a "
       "variant of other_worlds, got '..'"),
      (['--study=other_worlds', '--variants=pairs,triples', '--name=x'],
       'error: --variants: unknown variant triples of other_worlds; known: pairs, non_iia, '
       'groups3, v8_ly4')]:
    with flagsaver.flagsaver():
      flags.FLAGS(['combine', *argv, f'--runs={runs}'])
      with pytest.raises(SystemExit) as refused:
        combine_lib.main(['combine'])
    assert str(refused.value) == expected
  assert not runs.exists()


def _world_part(published: dict, first_world: int, num_worlds: int, strategies) -> dict:
  """One of the split tiny run's published variants relabelled as a part over world seeds
  `first_world ..` (config and per-world pretrain.json; its rows are not read by the checks)."""
  part = copy.deepcopy(published)
  part['config.json']['world'].update(seed=first_world, num_worlds=num_worlds)
  part['config.json']['experiment']['strategies'] = list(strategies)
  report = published['pretrain.json']
  part['pretrain.json'] = {**report, 'per_world': [
      {**report, 'kl_to_pstar': report['kl_to_pstar'] + first_world + w}
      for w in range(num_worlds)]}
  return part


def test_world_parts_that_overlap_miss_a_world_or_leave_a_gap_are_refused(tiny_run, tmp_path):
  results_dir = str(tmp_path / 'results')
  one = combine_lib.read_variant(results_dir, _split(tiny_run, results_dir)[0])

  def refusal(*parts) -> str:
    with pytest.raises(SystemExit) as refused:
      combine_lib.check_same_lanes({f'part{i}': p for i, p in enumerate(parts)})
    assert '\n' not in str(refused.value)
    return str(refused.value)

  both = ('passive', 'infomax')
  assert combine_lib.check_same_lanes({  # Worlds 0-1 with both, 2-3 one strategy a part.
      'a': _world_part(one, 0, 2, both), 'b': _world_part(one, 2, 2, ['passive']),
      'c': _world_part(one, 2, 2, ['infomax'])})[0] == range(0, 4)
  assert refusal(_world_part(one, 0, 2, both), _world_part(one, 1, 2, ['passive'])) == (
      'error: --variants: part0 and part1 both ran passive on world 1')
  assert refusal(_world_part(one, 0, 2, both), _world_part(one, 2, 2, ['passive'])) == (
      'error: --variants: infomax was not run on world(s) 2, 3, which other variants ran: every '
      'strategy needs the same lanes')
  assert refusal(_world_part(one, 0, 2, both), _world_part(one, 4, 2, both)) == (
      'error: --variants: the worlds run (0, 1, 4, 5) are not a contiguous range of world seeds')
  other_lm = _world_part(one, 1, 2, ['passive'])
  other_lm['pretrain.json']['per_world'][1]['kl_to_pstar'] *= 1 + 10 * combine_lib.PRETRAIN_RTOL
  assert 'pre-trained different LMs (their pretrain.json differ on world 2)' in refusal(
      _world_part(one, 2, 2, ['infomax']), other_lm)
  short = _world_part(one, 2, 2, both)
  del short['pretrain.json']['per_world'][1]
  assert refusal(_world_part(one, 0, 2, both), short) == (
      "error: --variants: part1's pretrain.json holds 1 per-world reports for its 2 worlds")
  one_world = _world_part(one, 0, 2, both)
  one_world['config.json']['world']['num_worlds'] = 1  # One world: its seed is the world.
  assert refusal(one_world, _world_part(one, 2, 2, both)).startswith(
      'error: --variants: part0 and part1 differ in world.num_worlds: 1 in part0, 2 in part1')


@pytest.mark.slow  # ~2 min: a tiny run over 4 worlds, then its parts (3 more tiny runs).
def test_a_many_world_run_split_by_worlds_combines_into_its_own_summary(tmp_path):
  """Worlds 0-3 with passive and infomax, against worlds 0-1 with both, then worlds 2-3 with
  each alone: the combined rows are the whole run's (to float rounding: pre-training vmapped
  over 2 worlds and over 4 differ in the last bits), and so is the summary's every number."""
  def run(name, first_world, num_worlds, strategies):
    config = tiny.get_config()
    config.world.seed, config.world.num_worlds = first_world, num_worlds
    config.experiment.num_seeds = 1
    config.experiment.strategies = strategies
    workdir = str(tmp_path / 'runs' / name)
    lmrl.run(config, workdir, log=lambda _: None)
    study_lib.publish(workdir, str(tmp_path / 'results'), name)
    return workdir

  whole = run('whole', 0, 4, TINY_RUN_STRATEGIES)
  names = ['low', 'high_passive', 'high_infomax']
  run('low', 0, 2, TINY_RUN_STRATEGIES)
  run('high_passive', 2, 2, ('passive',))
  run('high_infomax', 2, 2, ('infomax',))
  published = {v: combine_lib.read_variant(str(tmp_path / 'results'), v) for v in names}
  config, rows, summary, pretrain = combine_lib.combine(published)
  assert (config['world']['seed'], config['world']['num_worlds']) == (0, 4)
  assert config['experiment']['strategies'] == list(TINY_RUN_STRATEGIES)
  whole_rows = rows_lib.read_rows(os.path.join(whole, 'results.csv'))
  key = lambda r: (r['strategy'], int(r['world']), int(r['seed']), int(r['round']))
  combined = sorted(({k: (v if k in ('agent', 'strategy') else float(v)) for k, v in r.items()}
                     for r in rows), key=key)
  assert [key(r) for r in combined] == sorted(map(key, whole_rows))
  for a, b in zip(combined, sorted(whole_rows, key=key)):
    for k in a:
      if k not in ('agent', 'strategy') and a[k] == a[k]:
        assert a[k] == pytest.approx(b[k], rel=1e-3, abs=1e-5), (k, a, b)
  with open(os.path.join(whole, 'pretrain.json')) as f:
    whole_pretrain = json.load(f)
  assert pretrain['kl_to_pstar'] == pytest.approx(whole_pretrain['kl_to_pstar'], rel=1e-3)
  with open(os.path.join(whole, 'summary.json')) as f:
    whole_summary = json.load(f)
  mine = json.loads(json.dumps(files.finite_or_none(summary)))
  for strategy in TINY_RUN_STRATEGIES:
    a, b = mine['joint'][strategy], whole_summary['joint'][strategy]
    assert a['num_worlds'] == b['num_worlds'] == 4
    assert a['final_kl']['mean'] == pytest.approx(b['final_kl']['mean'], rel=1e-3)
    np.testing.assert_allclose(a['queries_showing_a_favourite_of_group'],
                               b['queries_showing_a_favourite_of_group'], atol=1e-6)


@pytest.mark.slow  # ~20 s: a second tiny run, of infomax alone.
def test_a_strategy_run_alone_runs_the_same_lanes_as_beside_another(tiny_run, tmp_path):
  """What lets a run be split by strategy: infomax alone gives the tiny run's infomax rows."""
  config = tiny.get_config()
  config.experiment.strategies = ('infomax',)
  lmrl.run(config, str(tmp_path / 'alone'), log=lambda _: None)
  alone = rows_lib.read_rows(str(tmp_path / 'alone' / 'results.csv'))
  beside = [r for r in rows_lib.read_rows(os.path.join(tiny_run, 'results.csv'))
            if r['strategy'] == 'infomax']
  assert len(alone) == len(beside) and all(a.keys() == b.keys() for a, b in zip(alone, beside))
  for a, b in zip(alone, beside):  # Equal, NaN where NaN (a metric undefined before any query).
    assert all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a), (a, b)
