"""`lmrl.run` (`lmrl.runner`): the files a run writes, with their columns, live metrics and timing,
and a run killed at any moment resuming to the same files.

The uninterrupted run is the session's `tiny_run` (tiny config, passive + infomax, through
`lmrl.run`; its fixture checks the progress lines: one compilation, an ETA per chunk). The killed
run is `python -m experiments.explore` in a subprocess (SIGKILL needs a process of its own),
resumed in this process.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests import conftest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATEGIES = conftest.TINY_RUN_STRATEGIES


def _explore_command(workdir, *extra):
  return [sys.executable, '-m', 'experiments.explore', '--config=tiny', f'--workdir={workdir}',
          conftest.TINY_RUN_STRATEGIES_FLAG, *extra]


def _read(path):
  with open(path) as f:
    return f.read()


def test_run_writes_every_file_with_its_columns(tiny_run):
  for name in ('config.json', 'pretrain.json', 'results.csv', 'summary.json', 'timing.json',
               'kl_vs_queries.png', 'coverage_g0_vs_queries.png', 'coverage_g1_vs_queries.png',
               'tv_vs_queries.png', 'spread_error_corr_vs_queries.png'):
    assert os.path.exists(os.path.join(tiny_run, name)), name
  with open(os.path.join(tiny_run, 'results.csv')) as f:
    rows = list(csv.DictReader(f))
  for column in ('agent', 'strategy', 'world', 'seed', 'round', 'queries', 'kl', 'tv',
                 'coverage_g0',
                 'coverage_g1', 'target_coverage_g1', 'choice_loss', 'spread', 'failed',
                 'disagreement_shown', 'disagreement_unshown'):
    assert column in rows[0], column
  # Nothing is shown before round 1; afterwards both sets hold pairs on the tiny world.
  assert {r['disagreement_shown'] for r in rows if r['round'] == '0'} == {'nan'}
  assert all(float(r['disagreement_shown']) >= 0 for r in rows if r['round'] != '0')
  # 2 strategies x 2 seeds x (4 rounds + the pre-trained LM).
  assert len(rows) == 2 * 2 * 5
  assert {r['strategy'] for r in rows} == set(STRATEGIES)
  assert {r['failed'] for r in rows} == {'0'}
  by_seed = {s: [float(r['kl']) for r in rows if r['seed'] == s and r['strategy'] == 'passive']
             for s in ('0', '1')}
  assert by_seed['0'][1:] != by_seed['1'][1:]  # Seeds differ after the first round.
  summary = json.loads(_read(os.path.join(tiny_run, 'summary.json')))
  for strategy in STRATEGIES:
    entry = summary['joint'][strategy]
    for key in ('final_kl', 'close_50', 'close_80', 'close_90', 'worst_group_coverage',
                'auc_log_kl', 'failed_seeds'):
      assert key in entry
    assert entry['failed_seeds'] == []
    assert entry['close_50']['text']  # Words, reached or not.
  assert 'close_80_vs_passive' in summary['joint']['infomax']
  # What was shown: every seed's queries, in round order, ranked; favourites flagged per group.
  config = json.loads(_read(os.path.join(tiny_run, 'config.json')))
  e, B = config['experiment'], config['experiment']['prompts_per_round']
  for strategy in STRATEGIES:
    with np.load(os.path.join(tiny_run, 'results', f'joint_{strategy}_shown.npz')) as shown:
      S, H, K = shown['ranking_SxHxK'].shape
      assert (S, H, K) == (e['num_seeds'], e['rounds'] * B, e['responses_per_prompt'])
      assert shown['valid_SxH'].all()
      np.testing.assert_array_equal(np.sort(shown['ranking_SxHxK'], -1),
                                    np.broadcast_to(np.arange(K), (S, H, K)))
      np.testing.assert_array_equal(shown['round_H'], np.repeat(np.arange(1, e['rounds'] + 1), B))
      assert shown['shows_favourite_SxHxG'].shape == (S, H, 2)
      rate = summary['joint'][strategy]['queries_showing_a_favourite_of_group']
      np.testing.assert_allclose(rate, shown['shows_favourite_SxHxG'].mean((0, 1)), rtol=1e-6)
  timing = json.loads(_read(os.path.join(tiny_run, 'timing.json')))
  assert timing['joint']['compile_seconds'] > 0  # One compilation for both strategies.
  assert set(timing['joint']) == {'compile_seconds', 'compile_cache', *STRATEGIES}
  assert not [n for n in os.listdir(tiny_run) if '.tmp' in n]  # No temporary files left.
  # metrics.jsonl: one object per strategy, seed and evaluated round (round 0 included), in order.
  with open(os.path.join(tiny_run, 'metrics.jsonl')) as f:
    live = [json.loads(line) for line in f]
  assert len(live) == 2 * 2 * 5
  assert [(r['strategy'], r['round']) for r in live[:4]] == [('passive', 0), ('passive', 0),
                                                            ('passive', 1), ('passive', 1)]
  by_key = {(r['strategy'], r['seed'], r['round']): r['kl'] for r in live}
  for row in rows:
    assert float(row['kl']) == by_key[(row['strategy'], int(row['seed']), int(row['round']))]


def test_killed_run_resumes_to_the_same_results(tiny_run, tmp_path):
  """SIGKILL right after the first checkpoint of the second sweep, resumed: identical files."""
  workdir = tmp_path / 'run'
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  checkpoint = workdir / 'checkpoints' / 'joint_infomax' / '2'  # After 2 of 4 rounds.
  process = subprocess.Popen(_explore_command(workdir), env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 400
    while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
      time.sleep(0.02)
    assert checkpoint.exists(), 'the run ended or timed out before its first infomax chunk'
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
  finally:
    if process.poll() is None:
      process.kill()
  assert process.returncode == -signal.SIGKILL
  assert not (workdir / 'results' / 'joint_infomax.npz').exists()  # Killed mid-sweep.
  assert not (workdir / 'results.csv').exists()
  with open(workdir / 'metrics.jsonl') as f:  # Grew chunk by chunk; every line whole.
    assert len([json.loads(line) for line in f]) >= 2 * 2 * 2

  # Resumed (and rerun once done) in this process: the killed run's command line is its config
  # (tiny, these strategies), and `lmrl.run` is what explore's main calls; a process of its own
  # (~3.5 s of imports each) is needed only for the SIGKILL.
  import lmrl  # pylint: disable=g-import-not-at-top
  from lmrl.configs import tiny  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.experiment.strategies = STRATEGIES
  resumed = []
  lmrl.run(config, str(workdir), log=resumed.append)
  assert 'joint/passive: already done, skipped' in resumed
  # The resumed run compiled no sweep: it came from the persistent cache.
  cache = json.loads(_read(workdir / 'timing.json'))['joint']['compile_cache']
  assert cache['misses'] == 0 and cache['hits'] >= 1, cache
  assert not any('round 2/4' in line for line in resumed)
  assert any('round 4/4' in line for line in resumed)
  for name in ('results.csv', 'summary.json', 'config.json', 'pretrain.json'):
    assert _read(workdir / name) == _read(os.path.join(tiny_run, name)), name

  again = []
  lmrl.run(config, str(workdir), log=again.append)
  assert sum('already done' in line for line in again) == 2
  assert not any('compiling' in line for line in again)
  assert _read(workdir / 'results.csv') == _read(os.path.join(tiny_run, 'results.csv'))


@pytest.mark.slow  # ~80 s on 2 cores: two runs (two worlds; one world as a check).
def test_a_run_over_two_worlds_gives_each_lane_its_own_world_and_lm(tmp_path):
  """`world.num_worlds` = 2, one seed each: two lanes, lane w on world `world.seed + w` with that
  world's own pre-trained LM and p*, and the lane a run over other worlds gives that world; the
  summary resamples worlds (`num_worlds`)."""
  import lmrl  # pylint: disable=g-import-not-at-top
  from lmrl.configs import tiny  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.world.num_worlds = 2
  config.experiment.num_seeds = 1
  config.experiment.strategies = ('passive', 'uniform')
  workdir = str(tmp_path / 'run')
  summary = lmrl.run(config, workdir, log=lambda line: None)
  with open(os.path.join(workdir, 'pretrain.json')) as f:
    per_world = json.load(f)['per_world']
  with open(os.path.join(workdir, 'results.csv')) as f:
    rows = list(csv.DictReader(f))
  assert {(r['world'], r['seed']) for r in rows} == {('0', '0'), ('1', '1')}
  for r in rows:  # Each lane's target coverage is its own world's p*'s.
    np.testing.assert_allclose(float(r['target_coverage_g1']),
                               per_world[int(r['world'])]['target_coverage_g1'], rtol=1e-5)
  assert per_world[0]['target_coverage_g1'] != per_world[1]['target_coverage_g1']
  # Lane 1 (world 1) is the lane a run over worlds 1 and 2 gives world 1: the same teachers,
  # pre-trained LM, priors and prompts (a lane's key is its world seed's and its seed's,
  # `pipeline.lane_keys`), so the same curve: a run can be split by worlds.
  shifted = tiny.get_config()
  shifted.world.seed, shifted.world.num_worlds = 1, 2
  shifted.experiment.num_seeds = 1
  shifted.experiment.strategies = ('passive',)
  lmrl.run(shifted, str(tmp_path / 'shifted'), log=lambda line: None)
  with open(tmp_path / 'shifted' / 'results.csv') as f:
    alone_kl = [float(r['kl']) for r in csv.DictReader(f) if r['world'] == '0']
  lane1_kl = [float(r['kl']) for r in rows if r['world'] == '1' and r['strategy'] == 'passive']
  np.testing.assert_allclose(lane1_kl, alone_kl, rtol=1e-4)
  assert summary['joint']['uniform']['num_worlds'] == 2
  assert summary['joint']['uniform']['final_kl']['num_worlds'] == 2
  # What the diagnostics restore (`runner.restore_joint_sweep(many_worlds=True)`): each lane's
  # state at the last checkpoint, on its own world, gives that lane's final KL again.
  from lmrl import loop as loop_lib, runner, sweep as sweep_lib  # pylint: disable=g-import-not-at-top
  run = runner.restore_joint_sweep(workdir, 'uniform', many_worlds=True)
  assert list(run.world_L) == [0, 1]
  assert run.rankings == config.experiment.rounds * config.experiment.prompts_per_round
  evaluate = sweep_lib.make_sweep(loop_lib.make_experiment(run.config, run.spec, run.agent),
                                  per_lane_world=True).evaluate
  for state, rankings in [(run.fresh, 0), (run.state, run.rankings)]:  # Priors, then the fit.
    kl = np.asarray(evaluate(state, run.world)['kl'])
    logged = {r['world']: float(r['kl']) for r in rows if r['strategy'] == 'uniform'
              and int(r['queries']) == rankings}
    np.testing.assert_allclose(kl, [logged['0'], logged['1']], rtol=1e-4)


def test_distributed_without_a_job_to_join_is_one_line_and_writes_nothing(tmp_path):
  """`experiment.distributed` where no cluster is detected and no coordinator given: a
  `ConfigError` naming the field, raised before JAX's backend is touched and before anything is
  written (was a RuntimeError traceback: initialize ran after the agents were built)."""
  import lmrl  # pylint: disable=g-import-not-at-top
  from lmrl import errors  # pylint: disable=g-import-not-at-top
  from lmrl.configs import tiny  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.experiment.distributed = True
  workdir = tmp_path / 'run'
  workdir.mkdir()
  (workdir / 'notes.txt').write_text('mine')
  with pytest.raises(errors.ConfigError, match='config.experiment.distributed') as raised:
    lmrl.run(config, str(workdir), log=lambda line: None)
  assert '\n' not in str(raised.value)
  assert sorted(os.listdir(workdir)) == ['notes.txt']
