"""Smoke tests of the binaries: explore end to end under flagsaver, pretrain and plot by CLI."""

import csv
import json
import os
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import pytest

from experiments import explore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, 'experiments', 'configs', 'tiny.py')


def _run_explore(workdir, **overrides):
  """Runs explore.main on the tiny config; `section__field=value` overrides config fields.

  (config_flags defines `--config.x` override flags from sys.argv at import time, so a test sets
  the fields on the parsed config instead.)
  """
  with flagsaver.flagsaver():
    flags.FLAGS(['explore', f'--config={TINY}', f'--workdir={workdir}'])
    for name, value in overrides.items():
      section, field = name.split('__')
      setattr(explore._CONFIG.value[section], field, value)
    explore.main([])


def test_explore_writes_every_file_with_its_columns(tmp_path, capsys):
  workdir = str(tmp_path / 'run')
  _run_explore(workdir, experiment__strategies=('passive', 'infomax'))
  for name in ('config.json', 'pretrain.json', 'results.csv', 'summary.json',
               'kl_vs_queries.png', 'minority_coverage_vs_queries.png'):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'results.csv')) as f:
    rows = list(csv.DictReader(f))
  for column in ('agent', 'strategy', 'seed', 'round', 'queries', 'kl', 'tv', 'coverage_g0',
                 'coverage_g1', 'target_coverage_g1', 'choice_loss', 'spread'):
    assert column in rows[0], column
  # 2 strategies x 2 seeds x (4 rounds + the pre-trained LM).
  assert len(rows) == 2 * 2 * 5
  assert {r['strategy'] for r in rows} == {'passive', 'infomax'}
  by_seed = {s: [float(r['kl']) for r in rows if r['seed'] == s and r['strategy'] == 'passive']
             for s in ('0', '1')}
  assert by_seed['0'][1:] != by_seed['1'][1:]  # Seeds differ after the first round.
  with open(os.path.join(workdir, 'summary.json')) as f:
    summary = json.load(f)
  for strategy in ('passive', 'infomax'):
    entry = summary['joint'][strategy]
    for key in ('final_kl_mean', 'final_kl_se', 'queries_to_target', 'ratio_vs_passive',
                'ratio_vs_passive_se'):
      assert key in entry
  assert 'infomax' in capsys.readouterr().out  # Progress was printed.


def test_explore_rerun_resumes_and_keeps_results(tmp_path, capsys):
  workdir = str(tmp_path / 'run')
  _run_explore(workdir, experiment__strategies=('uniform',))
  with open(os.path.join(workdir, 'results.csv')) as f:
    first = f.read()
  _run_explore(workdir, experiment__strategies=('uniform',))
  assert 'already done' in capsys.readouterr().out
  with open(os.path.join(workdir, 'results.csv')) as f:
    assert f.read() == first


@pytest.mark.parametrize('override, field', [
    ({'experiment__responses_per_prompt': 1}, 'experiment.responses_per_prompt'),
    ({'world__group_weights': (0.5, 0.6)}, 'world.group_weights'),
    ({'world__group_weights': (1.2, -0.2)}, 'world.group_weights'),
    ({'world__vocab_size': 400}, 'world.response_length'),
    ({'experiment__strategies': ('nope',)}, 'experiment.strategies'),
    ({'finetune__learning_rate': -1.0}, 'finetune.learning_rate'),
])
def test_bad_config_fails_before_compiling_with_one_line(tmp_path, override, field):
  workdir = tmp_path / 'run'
  with pytest.raises(SystemExit) as exit_info:
    _run_explore(workdir, **override)
  message = str(exit_info.value.code)
  assert message.startswith('error: config.' + field), message
  assert '\n' not in message
  assert not workdir.exists()  # Nothing was written.


def test_existing_workdir_of_another_config_is_not_overwritten(tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  (workdir / 'config.json').write_text('{"other": 1}')
  with pytest.raises(SystemExit) as exit_info:
    _run_explore(workdir)
  assert 'different config' in str(exit_info.value.code)
  assert (workdir / 'config.json').read_text() == '{"other": 1}'


def test_pretrain_and_plot_binaries(tmp_path):
  workdir = tmp_path / 'pt'
  env = dict(os.environ, PYTHONPATH=ROOT)
  out = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'pretrain.py'),
                        f'--config={TINY}', f'--workdir={workdir}'],
                       capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
  report = json.loads(out[out.index('{'):])
  assert report['kl_to_majority'] < report['kl_to_pstar']
  assert os.path.isdir(workdir / 'pretrained')
  bad = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'pretrain.py'),
                        f'--config={TINY}', f'--workdir={workdir}'],
                       capture_output=True, text=True, env=env, cwd=ROOT)
  assert bad.returncode != 0 and 'already holds' in bad.stderr
  bad = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'plot.py'),
                        f'--workdir={tmp_path / "missing"}'],
                       capture_output=True, text=True, env=env, cwd=ROOT)
  assert bad.returncode != 0 and bad.stderr.strip().startswith('error: --workdir')
