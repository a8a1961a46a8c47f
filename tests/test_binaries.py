"""The binaries end to end: explore's files, resuming after SIGKILL, bad input, pretrain and plot.

`explore` runs in-process under flagsaver (its uninterrupted run on the tiny config, `tiny_run`,
is shared by the session), and as a subprocess where it must be killed or must parse real
command lines.
"""

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

from absl import flags
from absl.testing import flagsaver
import jax
import numpy as np
import pytest

from experiments import explore
from lmrl import checks
from lmrl import flags as lmrl_flags
from tests import conftest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, 'lmrl', 'configs', 'tiny.py')
EXPLORE = [sys.executable, '-m', 'experiments.explore']
STRATEGIES = conftest.TINY_RUN_STRATEGIES

_COMPILE_EVENTS = []  # Every XLA compilation of this process (jax.monitoring).
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kwargs: _COMPILE_EVENTS.append(event)
    if event.startswith('/jax/core/compile/') else None)


def _run_explore(workdir, **overrides):
  """Runs explore.main on the tiny config; `section__field=value` overrides config fields.

  (config_flags defines `--config.x` override flags from sys.argv at import time, so a test sets
  the fields on the parsed config instead.)
  """
  with flagsaver.flagsaver():
    flags.FLAGS(['explore', f'--config={TINY}', f'--workdir={workdir}'])
    for name, value in overrides.items():
      section, field = name.split('__') if '__' in name else (None, name)
      setattr(explore._CONFIG.value[section] if section else explore._CONFIG.value, field, value)
    explore.main([])


STRATEGIES_FLAG = "--config.experiment.strategies=(" + ','.join(f"'{s}'" for s in STRATEGIES) + ')'


def _explore_command(workdir, *extra):
  return [sys.executable, '-m', 'experiments.explore', '--config=tiny', f'--workdir={workdir}',
          STRATEGIES_FLAG, *extra]


def _read(path):
  with open(path) as f:
    return f.read()


def test_every_named_config_and_variant_is_valid():
  """`default`, `tiny` and every study's config (each of its VARIANTS) pass the checks."""
  for name in lmrl_flags.config_names():
    path = lmrl_flags.config_path(name)
    spec = importlib.util.spec_from_file_location(f'config_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for variant in lmrl_flags.variants(path) or (None,):
      config = module.get_config(variant) if variant else module.get_config()
      checks.validate(config)


def test_explore_writes_every_file_with_its_columns(tiny_run):
  for name in ('config.json', 'pretrain.json', 'results.csv', 'summary.json', 'timing.json',
               'kl_vs_choices.png', 'coverage_g0_vs_choices.png', 'coverage_g1_vs_choices.png',
               'tv_vs_choices.png', 'spread_error_corr_vs_choices.png'):
    assert os.path.exists(os.path.join(tiny_run, name)), name
  with open(os.path.join(tiny_run, 'results.csv')) as f:
    rows = list(csv.DictReader(f))
  for column in ('agent', 'strategy', 'seed', 'round', 'queries', 'kl', 'tv', 'coverage_g0',
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
  """SIGKILL right after the first checkpoint of the second sweep, rerun: identical files."""
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

  resumed = subprocess.run(_explore_command(workdir), env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'joint/passive: already done' in resumed.stdout
  # The resumed process compiled no sweep: it came from the persistent cache.
  cache = json.loads(_read(workdir / 'timing.json'))['joint']['compile_cache']
  assert cache['misses'] == 0 and cache['hits'] >= 1, cache
  assert 'round 2/4' not in resumed.stdout and 'round 4/4' in resumed.stdout
  for name in ('results.csv', 'summary.json', 'config.json', 'pretrain.json'):
    assert _read(workdir / name) == _read(os.path.join(tiny_run, name)), name

  again = subprocess.run(_explore_command(workdir), env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
  assert again.returncode == 0 and again.stdout.count('already done') == 2
  assert _read(workdir / 'results.csv') == _read(os.path.join(tiny_run, 'results.csv'))


@pytest.mark.parametrize('override, field', [
    ({'seed': -1}, 'seed'),
    ({'world__seed': -3}, 'world.seed'),
    ({'world__vocab_size': 1}, 'world.vocab_size'),
    ({'world__vocab_size': 400}, 'world.response_length'),
    ({'world__prompt_length': 0}, 'world.prompt_length'),
    ({'world__group_weights': (0.5, 0.6)}, 'world.group_weights'),
    ({'world__group_weights': (1.2, -0.2)}, 'world.group_weights'),
    ({'world__corpus_group_mix': (1.0,)}, 'world.corpus_group_mix'),
    ({'world__teacher_temperature': 0.0}, 'world.teacher_temperature'),
    ({'world__favourite_mass': 1.5}, 'world.favourite_mass'),
    ({'world__num_eval_prompts': 99}, 'world.num_eval_prompts'),
    ({'lm__num_heads': 3}, 'lm.num_heads'),
    ({'pretrain__steps': 0}, 'pretrain.steps'),
    ({'pretrain__learning_rate': float('nan')}, 'pretrain.learning_rate'),
    ({'agent__kind': 'ppo'}, 'agent.kind'),
    ({'agent__epistemic': 'dropout'}, 'agent.epistemic'),
    ({'agent__bootstrap': 'bayes'}, 'agent.bootstrap'),
    ({'agent__deploy': 'median'}, 'agent.deploy'),
    ({'experiment__info_units': 'bits'}, 'experiment.info_units'),
    ({'agent__num_members': 0}, 'agent.num_members'),
    ({'agent__prior_scale': -1.0}, 'agent.prior_scale'),
    ({'agent__prior_width': 6, 'lm__num_heads': 4}, 'agent.prior_width'),
    ({'finetune__learning_rate': -1.0}, 'finetune.learning_rate'),
    ({'finetune__lambda_lm': float('inf')}, 'finetune.lambda_lm'),
    ({'finetune__steps_per_round': 0}, 'finetune.steps_per_round'),
    ({'classic__entropy_weight': -0.5}, 'classic.entropy_weight'),
    ({'experiment__responses_per_prompt': 1}, 'experiment.responses_per_prompt'),
    ({'experiment__strategies': ('nope',)}, 'experiment.strategies'),
    ({'experiment__strategies': ()}, 'experiment.strategies'),
    ({'experiment__strategies': ('passive', 'passive')}, 'experiment.strategies'),
    ({'experiment__pool_size': 1}, 'experiment.pool_size'),
    ({'experiment__pool_size': 300}, 'experiment.pool_size'),
    ({'experiment__rounds_per_chunk': 3}, 'experiment.rounds_per_chunk'),
    ({'experiment__temperature': 0.0}, 'experiment.temperature'),
    ({'experiment__num_seeds': 0}, 'experiment.num_seeds'),
    ({'sweep__learning_rate': (1e-3, -1.0)}, 'sweep.learning_rate'),
    ({'sweep__lambda_lm': (0.0, 0.0)}, 'sweep.lambda_lm'),
])
def test_bad_config_fails_before_compiling_with_one_line(tmp_path, override, field):
  workdir = tmp_path / 'run'
  compiled = len(_COMPILE_EVENTS)
  with pytest.raises(SystemExit) as exit_info:
    _run_explore(workdir, **override)
  message = str(exit_info.value.code)
  assert message.startswith(f'error: config.{field} '), message
  assert ', got ' in message and '\n' not in message
  assert len(_COMPILE_EVENTS) == compiled  # Nothing was compiled...
  assert not workdir.exists()  # ...and nothing written.


@pytest.mark.parametrize('argument, expected', [
    ('--config.world.vocab_size=2.5', '--config.world.vocab_size'),
    ('--config.world.vocab_sise=3', 'vocab_sise'),
    ('--config.world.iia=maybe', '--config.world.iia'),
    ('--config=missing_config.py', 'missing_config.py'),
    ('--config=small', "unknown config 'small'; known: default, tiny"),
    ('--workdri=x', 'workdri'),
    (None, '--workdir is required'),
])
def test_bad_flags_fail_with_one_line(tmp_path, argument, expected):
  workdir = tmp_path / 'run'
  command = EXPLORE + ['--config=tiny']
  command += [argument, f'--workdir={workdir}'] if argument else []
  out = subprocess.run(command, env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  assert out.returncode != 0
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: ') and expected in lines[0], out.stderr
  assert not workdir.exists()


def test_bad_override_of_the_default_config_fails_with_one_line(tmp_path):
  """Without --config the default file is loaded as the flag is defined, at import."""
  workdir = tmp_path / 'run'
  out = subprocess.run(EXPLORE + ['--config.world.vocab_sise=3', f'--workdir={workdir}'],
                       cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  lines = out.stderr.strip().splitlines()
  assert out.returncode != 0 and len(lines) == 1 and 'vocab_sise' in lines[0], out.stderr
  assert not workdir.exists()


def test_existing_workdir_of_another_config_is_not_overwritten(tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  (workdir / 'config.json').write_text('{"other": 1}')
  with pytest.raises(SystemExit) as exit_info:
    _run_explore(workdir)
  assert 'different config' in str(exit_info.value.code)
  assert (workdir / 'config.json').read_text() == '{"other": 1}'
  (workdir / 'config.json').unlink()
  (workdir / 'notes.txt').write_text('mine')  # A non-empty directory without a config.json.
  with pytest.raises(SystemExit) as exit_info:
    _run_explore(workdir)
  assert 'not empty' in str(exit_info.value.code)
  assert sorted(os.listdir(workdir)) == ['notes.txt']


def test_pretrain_then_explore_on_one_workdir_from_any_directory(tiny_run, tmp_path):
  """`python -m experiments.pretrain` then explore on the same --workdir (pretrain's promise), run
  from a directory outside the repository; then the plot binary."""
  workdir = tmp_path / 'pt'
  pretrain = [sys.executable, '-m', 'experiments.pretrain', '--config=tiny', STRATEGIES_FLAG,
              f'--workdir={workdir}']
  out = subprocess.run(pretrain, capture_output=True, text=True, cwd=tmp_path, check=True).stdout
  report = json.loads(out[out.index('{'):])
  assert report['kl_to_majority'] < report['kl_to_pstar']
  assert os.path.isdir(workdir / 'pretrained')
  bad = subprocess.run(pretrain, capture_output=True, text=True, cwd=tmp_path)
  assert bad.returncode != 0 and 'already holds' in bad.stderr
  _run_explore(workdir, experiment__strategies=STRATEGIES)  # Loads the pre-trained LM.
  for name in ('results.csv', 'summary.json', 'pretrain.json'):
    assert _read(workdir / name) == _read(os.path.join(tiny_run, name)), name
  bad = subprocess.run([sys.executable, '-m', 'experiments.plot',
                        f'--workdir={tmp_path / "missing"}'],
                       capture_output=True, text=True, cwd=tmp_path)
  assert bad.returncode != 0 and bad.stderr.strip().startswith('error: --workdir')
  good = subprocess.run([sys.executable, '-m', 'experiments.plot', f'--workdir={workdir}'],
                        capture_output=True, text=True, cwd=tmp_path, check=True)
  assert 'kl_vs_choices.png' in good.stdout


def test_compare_writes_one_table_and_figure_for_several_workdirs(tiny_run, tmp_path):
  out = tmp_path / 'comparison'
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.compare', f'--workdirs={tiny_run},{tiny_run}',
       '--names=first,second', f'--out={out}'], cwd=ROOT, capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  table = (out / 'comparison.md').read_text()
  assert table.count('| first | joint |') == 2 and table.count('| second | joint |') == 2
  with open(out / 'comparison.csv') as f:
    rows = list(csv.DictReader(f))
  summary = json.loads(_read(os.path.join(tiny_run, 'summary.json')))
  assert len(rows) == 4 and {r['strategy'] for r in rows} == set(STRATEGIES)
  for row in rows:
    assert float(row['final_kl']) == pytest.approx(
        summary['joint'][row['strategy']]['final_kl']['mean'], rel=1e-9)
  assert (out / 'kl_vs_choices.png').stat().st_size > 0
  refused = subprocess.run([sys.executable, '-m', 'experiments.compare', f'--workdirs={tmp_path}',
                            f'--out={out}'], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
  assert refused.returncode == 1 and refused.stderr.strip().count('\n') == 0
  assert refused.stderr.startswith('error: --workdirs')
