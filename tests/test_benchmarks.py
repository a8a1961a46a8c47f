"""Smoke tests of the benchmark binaries: they run, and write every number they promise.

Timings are never asserted on (the machine may be busy); only that each is there, finite and
positive, that the sweep does not recompile, and that the compiled sweep and the Python-loop
driver did the same work (the same KL).
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, 'lmrl', 'configs', 'tiny.py')

POSITIVE = {
    'setup': ('cpu_count', 'repeats', 'total_seconds'),
    'matmul': ('n', 'flops_per_call', 'seconds_median', 'flops_per_second',
               'flops_per_second_best'),
    'joint_update': ('width', 'depth', 'num_members', 'batch_size', 'lm_batch_size',
                     'tokens_per_step', 'params_per_member', 'steps_per_call', 'flops_per_step',
                     'flops_per_step_scan_once', 'seconds_per_step', 'flops_per_second',
                     'fraction_of_peak'),
}
POSITIVE_PER_STRATEGY = (
    'num_seeds', 'rounds_per_chunk', 'prompts_per_round', 'compiled_seconds_per_chunk',
    'compiled_rounds_per_second', 'compiled_choices_per_second', 'python_loop_seconds_per_chunk',
    'python_loop_rounds_per_second', 'python_loop_choices_per_second',
    'speedup_compiled_over_python_loop', 'first_chunk_seconds', 'compile_seconds',
    'run_chunk_compilations')


# Compilation is most of a smoke run: LLVM without optimisation compiles several times faster
# (the kernels run slower, and timings are not checked).
SMOKE_XLA_FLAGS = '--xla_backend_optimization_level=0'


def _run(script, *args, timeout=900):
  env = dict(os.environ,
             XLA_FLAGS=f'{os.environ.get("XLA_FLAGS", "")} {SMOKE_XLA_FLAGS}'.strip())
  return subprocess.run([sys.executable, '-m', f'benchmarks.{script.removesuffix(".py")}', *args],
                        capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env,
                        check=False)


def _numbers(tree):
  """Every number (not bool) in a JSON tree."""
  if isinstance(tree, dict):
    return [x for v in tree.values() for x in _numbers(v)]
  if isinstance(tree, list):
    return [x for v in tree for x in _numbers(v)]
  return [tree] if isinstance(tree, (int, float)) and not isinstance(tree, bool) else []


def _assert_positive(value, name):
  assert isinstance(value, (int, float)) and not isinstance(value, bool), name
  assert math.isfinite(value) and value > 0, (name, value)


@pytest.mark.slow
def test_performance_quick_writes_every_field(tmp_path):
  out_path = tmp_path / 'performance.json'
  result = _run('performance.py', '--quick', f'--out={out_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out_path) as f:
    out = json.load(f)

  assert all(math.isfinite(x) for x in _numbers(out))
  for section, names in POSITIVE.items():
    for name in names:
      _assert_positive(out[section][name], f'{section}.{name}')
  setup = out['setup']
  assert setup['device'] and setup['jax_version'] and setup['platform']
  assert len(setup['load_average']) == 3 and min(setup['load_average']) >= 0
  assert all(t > 0 for t in out['matmul']['seconds_all'])
  assert out['joint_update']['flops_source'].startswith('XLA cost analysis')
  # XLA counts a loop body once, so the loop-once count of `learn` is one step's FLOPs.
  joint = out['joint_update']
  assert joint['flops_per_step'] == pytest.approx(joint['flops_per_step_scan_once'], rel=0.05)

  assert sorted(out['sweep']) == ['infomax', 'passive']
  for strategy, s in out['sweep'].items():
    for name in POSITIVE_PER_STRATEGY:
      _assert_positive(s[name], f'sweep.{strategy}.{name}')
    assert all(t > 0 for t in s['compiled_seconds_all'])
    assert s['no_recompile_other_seeds'] is True, strategy
    assert s['no_recompile_other_hyperparameters'] is True, strategy
    assert s['run_chunk_compilations'] == 1, strategy
    # The two drivers did the same rounds from the same states with the same keys.
    assert s['max_abs_kl_difference_compiled_vs_python_loop'] < 1e-4, strategy
  assert out['no_recompile'] is True

  table = result.stdout
  for label in ('matmul peak', '% of peak', 'compiled / python loop', 'compile seconds',
                'no recompile: other seed keys', 'no recompile: other lr'):
    assert label in table, label


@pytest.mark.slow
def test_classic_vs_joint_tiny_runs(tmp_path):
  out_path = tmp_path / 'classic_vs_joint.json'
  result = _run('classic_vs_joint.py', f'--config={TINY}', '--repeats=1', f'--out={out_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out_path) as f:
    out = json.load(f)
  for kind in ('joint', 'classic'):
    for name in ('flops', 'flops_scan_once', 'learn_seconds_per_round',
                 'experiment_seconds_per_round'):
      _assert_positive(out[kind][name], f'{kind}.{name}')


@pytest.mark.slow
def test_profile_quick_times_every_phase(tmp_path):
  out_path = tmp_path / 'profile.json'
  result = _run('profile.py', '--quick', f'--out={out_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out_path) as f:
    out = json.load(f)

  assert all(math.isfinite(x) for x in _numbers(out))
  phases = ('prompts', 'choices_buffer', 'learn', 'metrics', 'host_transfer', 'checkpoint')
  assert sorted(out['phases']) == sorted(phases)
  for name in phases:
    row = out['phases'][name]
    for key in ('seconds_median', 'ms_per_round', 'share'):
      _assert_positive(row[key], f'phases.{name}.{key}')
    assert len(row['seconds_all']) == out['setup']['repeats'] == 2
    assert all(t > 0 for t in row['seconds_all'])
  for name in ('prompts', 'choices_buffer', 'learn', 'metrics'):
    _assert_positive(out['phases'][name]['compile_seconds'], f'phases.{name}.compile_seconds')
  for key in ('flops', 'flops_scan_once', 'gflops_per_second'):
    _assert_positive(out['phases']['learn'][key], f'phases.learn.{key}')

  # Every strategy of the tiny config has its query, compiled round and round total.
  assert list(out['strategies']) == out['setup']['strategies']
  assert sorted(out['strategies']) == sorted(
      ('passive', 'uniform', 'boltzmann', 'thompson', 'infomax'))
  for strategy, s in out['strategies'].items():
    for key in ('seconds_median', 'ms_per_round', 'compile_seconds'):
      _assert_positive(s['query'][key], f'strategies.{strategy}.query.{key}')
    for key in ('round_ms', 'query_share', 'phases_ms', 'compiled_round_ms',
                'phases_over_compiled_round'):
      _assert_positive(s[key], f'strategies.{strategy}.{key}')
    assert s['round_ms'] > s['query']['ms_per_round']
    # The experiment's throughput: every seed gets B choices a round; its FLOPs vs. the peak.
    setup = out['setup']
    np.testing.assert_allclose(s['choices_per_second'], setup['num_seeds']
                               * setup['prompts_per_round'] / (s['round_ms'] / 1e3), rtol=1e-9)
    assert s['round_flops'] > out['phases']['learn']['flops']
    np.testing.assert_allclose(s['fraction_of_peak'], s['gflops_per_second'] * 1e9
                               / out['matmul_peak']['flops_per_second'], rtol=1e-9)
  assert len(out['matmul_peak']['seconds_all']) == 2
  for section, key in [('full_round', 'compile_seconds'), ('sweep_chunk', 'compile_seconds'),
                       ('amortised', 'checkpoint_ms_per_chunk'),
                       ('amortised', 'metrics_ms_per_evaluated_round'),
                       ('amortised', 'checkpoint_bytes')]:
    _assert_positive(out[section][key], f'{section}.{key}')
  setup = out['setup']
  assert setup['device'] and setup['platform'] and 'init_lm' in setup['lm']
  assert len(setup['load_average']) == 3 and len(setup['load_average_end']) == 3

  table = result.stdout
  for label in ('load average', 'freshly initialised', 'query: infomax', 'learn', 'checkpoint',
                'full round, compiled', 'sweep chunk', 'phases/compiled', 'choices/s',
                'of peak'):
    assert label in table, label


@pytest.mark.slow
def test_peer_quick_times_every_column_and_says_why_pytorch_is_missing(tmp_path):
  out_path = tmp_path / 'peer.json'
  result = _run('peer', '--quick', f'--out={out_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(out_path.read_text())
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
    columns = {'jax_one_seed', 'jax_seeds_vmapped', 'jax_seeds_mapped', 'pytorch'}
  except ImportError:
    columns = {'jax_one_seed', 'jax_seeds_vmapped', 'jax_seeds_mapped'}
    assert 'pip install' in out['setup']['pytorch']
  assert set(out['sizes']) == {'config', 'benchmark'}
  for size in out['sizes'].values():
    assert set(size['seconds_per_step']) == columns
    for value in [size['flops_per_step'], *size['seconds_per_step'].values()]:
      _assert_positive(value, 'peer')
  for value in out['matmul']['flops_per_second'].values():
    _assert_positive(value, 'peak')
  assert 'pytorch / this' in result.stdout


@pytest.mark.slow
def test_memory_prints_every_chunk_of_a_short_long_run(tmp_path):
  out_path = tmp_path / 'memory.json'
  result = _run('memory.py', f'--config={TINY}', '--config.experiment.rounds=8',
                '--config.experiment.rounds_per_chunk=2', '--config.experiment.eval_every=4',
                '--malloc=arenas,glibc', f'--out={out_path}')  # Two processes, side by side.
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'resident memory' in result.stdout and 'arenas vs glibc' in result.stdout
  with open(out_path) as f:
    runs = json.load(f)
  for setting in ('arenas', 'glibc'):
    assert runs[setting]['malloc'] == setting
    entry = runs[setting]['strategies']['joint/passive']
    assert entry['choices'] == [8, 16, 24, 32]  # The tiny world's 4 prompts a round, 2 a chunk.
    assert len(entry['resident_mb']) == len(entry['seconds']) == 4
    for mb in entry['resident_mb']:
      _assert_positive(mb, 'resident_mb')


@pytest.mark.slow
def test_replay_times_every_way_at_every_capacity(tmp_path):
  out_path = tmp_path / 'replay.json'
  result = _run('replay.py', f'--config={TINY}', '--rounds=4,16', '--repeats=2',
                f'--out={out_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'every row / index' in result.stdout
  with open(out_path) as f:
    rows = json.load(f)['rows']
  assert [row['capacity'] for row in rows] == [16, 64]  # The tiny world's 4 prompts a round.
  for row in rows:
    for name in ('index ms', 'every row ms', 'all ms', 'every row / index', 'all / index',
                 'all x shortest'):
      _assert_positive(row[name], name)


@pytest.mark.slow
def test_epig_search_times_both_searches_and_says_what_greedy_gives_up(tmp_path):
  out_path = tmp_path / 'epig_search.json'
  result = _run('epig_search.py', f'--config={TINY}', '--repeats=2',
                '--config.experiment.responses_per_prompt=3', '--config.experiment.epig_samples=2',
                f'--out={out_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'selection: all / greedy' in result.stdout and 'whole round' in result.stdout
  with open(out_path) as f:
    out = json.load(f)
  assert [row['phase'] for row in out['phases']] == ['tables', 'draws', 'all', 'greedy']
  assert 'draws + greedy' in result.stdout
  for row in out['phases']:
    _assert_positive(row['ms_per_round'], row['phase'])
  # The greedy tuple is never better than the best one, query by query (first queries alone).
  assert 0 < out['first_query_ratio_min'] <= out['first_query_ratio_mean'] <= 1 + 1e-5, out
  _assert_positive(out['round_score_ratio'], 'round_score_ratio')


@pytest.mark.slow  # ~25 s each: one lane of the structured family's agent, in its own process.
@pytest.mark.parametrize('case, prompts', [('epig_pass,1,2', 2), ('full_step,1,8', 8)])
def test_memory_estimate_covers_the_measured_peak_of_one_case(case, prompts):
  result = _run('memory_estimate.py', f'--case={case}')
  assert result.returncode == 0, result.stderr[-3000:]
  row = json.loads(result.stdout.strip().splitlines()[-1])
  assert row['counted'].startswith(f'1 lanes x 8 members x {prompts} prompts x 512 response '
                                   'prefixes')
  for name in ('estimate_mb', 'xla_temp_mb', 'rss_peak_mb'):
    _assert_positive(row[name], name)
  assert row['estimate_mb'] >= row['rss_peak_mb'] and row['estimate_mb'] >= row['xla_temp_mb']


@pytest.mark.slow  # ~30 s: three processes of 40 small saves.
def test_checkpoint_memory_prints_each_modes_growth(tmp_path):
  out_path = tmp_path / 'checkpoint_memory.json'
  result = _run('checkpoint_memory.py', '--saves=40', '--leaves=10', f'--out={out_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'more than not saving' in result.stdout
  with open(out_path) as f:
    out = json.load(f)
  assert set(out['modes']) == {'save_progress', 'tree', 'no_save'}
  for mode in out['modes'].values():
    assert len(mode['resident_mb_every_20']) == 2
    for mb in mode['resident_mb_every_20']:
      _assert_positive(mb, 'resident_mb')
